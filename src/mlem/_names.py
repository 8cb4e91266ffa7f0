"""The one name behind the plugin manager, both markers and the entry points."""

PROJECT_NAME = "mlem"
ENTRY_POINT_GROUP = PROJECT_NAME
