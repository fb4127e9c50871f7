"""tools/cnncam_convert — PyTorch classification CNNs to cnncam model files (.ccm).

The command is tools/cnncam-convert; weights/FORMAT.md is the file format.
    models.py   where the model comes from: torchvision archs, --module factories,
                weight files, seeded random init with calibrated batchnorm statistics
    trace.py    torch.fx tracing, node and alias naming, modules/functions -> ops
    writer.py   the byte layout of FORMAT.md, written to a temporary file
    cli.py      arguments, metadata, the self-check, the atomic rename
tools/cnncam_convert/ccm.py is the independent reader and the reference interpreter the
self-check uses.
"""


class ConvertError(Exception):
    """An input or usage problem: the message says what and how to fix it (exit 2)."""
