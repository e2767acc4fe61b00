"""The logic behind the root entry points `train.py`, `evaluate.py` and `predict.py`."""
