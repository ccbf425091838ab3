"""What a reader sees: findings in words, figures, the line under each figure, the pruning notebooks' steps and the
README's generated blocks. Reads the study's results; never imported by a lower layer."""
