"""Qt-free plain functions: media readers and annotation format import/export."""
