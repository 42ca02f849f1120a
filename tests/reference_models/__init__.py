"""Public reference models written the way their authors wrote them (keras.io examples,
pytorch/examples, torchvision), used as sources for ``specc import`` and ``--against``."""
