"""Annotator: desktop image and video segmentation with local Segment-Anything models."""

__version__ = "0.1.0"
