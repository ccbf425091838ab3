"""The study: fine-tuning, the anatomy of layers and neurons, the pruning, score, speed and seed studies, and the claims
ledger. Built on ``core``, ``base`` and ``stats``; never imports ``present`` or ``tools``."""
