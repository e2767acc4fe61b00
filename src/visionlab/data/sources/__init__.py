"""One reader per on-disk format; each returns a SourceIndex of samples per split."""

from visionlab.data.sources.coco import read_coco
from visionlab.data.sources.csv import read_csv_labels
from visionlab.data.sources.csv_boxes import read_csv_boxes
from visionlab.data.sources.imagefolder import read_imagefolder
from visionlab.data.sources.masks import read_mask_folders
from visionlab.data.sources.shapes import (
    read_shapes,
    read_shapes_detection,
    read_shapes_segmentation,
)
from visionlab.data.sources.voc import read_voc
from visionlab.data.sources.yolo import read_yolo

CLASSIFICATION_SOURCES = {
    "imagefolder": read_imagefolder,
    "csv": read_csv_labels,
    "shapes": read_shapes,
}
DETECTION_SOURCES = {
    "coco": read_coco,
    "voc": read_voc,
    "yolo": read_yolo,
    "csv_boxes": read_csv_boxes,
    "shapes": read_shapes_detection,
}
INSTANCE_SOURCES = {"coco": read_coco, "shapes": read_shapes_detection}
SEGMENTATION_SOURCES = {
    "masks": read_mask_folders,
    "shapes": read_shapes_segmentation,
}

__all__ = [
    "CLASSIFICATION_SOURCES",
    "DETECTION_SOURCES",
    "INSTANCE_SOURCES",
    "SEGMENTATION_SOURCES",
    "read_coco",
    "read_csv_boxes",
    "read_csv_labels",
    "read_imagefolder",
    "read_mask_folders",
    "read_shapes",
    "read_shapes_detection",
    "read_shapes_segmentation",
    "read_voc",
    "read_yolo",
]
