"""Datasets streamed from litdata chunks in a folder or an S3 bucket: `write` converts any
folder source, `data=stream` trains every task from it."""

from litdata.streaming import downloader as _litdata_downloader

# litdata moves S3 chunks with obstore, whose client it builds from fixed options that leave
# out `allow_http`: every chunk of an S3-compatible store served over plain http (MinIO, a
# local test server) then fails with "builder error". Allowing http schemes changes nothing for
# https endpoints; every process that reads or writes a stream imports this package first.
if hasattr(_litdata_downloader, "_OBSTORE_CLIENT_OPTIONS"):
    _litdata_downloader._OBSTORE_CLIENT_OPTIONS = {
        **_litdata_downloader._OBSTORE_CLIENT_OPTIONS,
        "allow_http": True,
    }
