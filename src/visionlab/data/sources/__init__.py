"""One reader per on-disk format; each returns a SourceIndex of samples per split."""

from visionlab.data.sources.csv import read_csv_labels
from visionlab.data.sources.imagefolder import read_imagefolder
from visionlab.data.sources.shapes import read_shapes

CLASSIFICATION_SOURCES = {
    "imagefolder": read_imagefolder,
    "csv": read_csv_labels,
    "shapes": read_shapes,
}

__all__ = ["CLASSIFICATION_SOURCES", "read_csv_labels", "read_imagefolder", "read_shapes"]
