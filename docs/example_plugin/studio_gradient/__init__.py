"""An example Studio plugin. Importing the package does nothing: the studio reads the manifest."""
