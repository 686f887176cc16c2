"""The domain models, one module per aggregate."""
from .branch import Branch, Role, User, user_branches
from .catalog import Product
from .event import Event, Subject
from .visit import Visit

__all__ = ["Branch", "Role", "User", "user_branches", "Event", "Subject", "Visit", "Product"]
