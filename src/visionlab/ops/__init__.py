"""Box operations: formats and the YOLOv1 grid encoding. IoU and NMS come from torchvision.ops."""
