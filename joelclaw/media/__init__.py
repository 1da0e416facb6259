"""Media the owner sends: what kind it is, its transcript or description, and its archive."""

# The public modules, all that function modules (`tasks/`) may import from here, each
# loaded when taken (`from joelclaw.media import archive`); tests/test_door.py holds them to it.
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from joelclaw.media import archive, kinds, understand

__all__ = ["archive", "kinds", "understand"]
