"""The ground floor: paths, device and seeds (``runtime``), caches and digests, the offline wheels, profiles, the
paper's numbers, the data splits and the summary file. Imports nothing else of the package."""
