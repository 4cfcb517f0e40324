# A file with no site at all.
