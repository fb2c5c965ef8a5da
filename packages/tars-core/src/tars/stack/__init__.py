"""Running the whole stack: a local broker plus every installed worker, supervised."""
