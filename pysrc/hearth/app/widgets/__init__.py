"""Small UI pieces the pages share: HTML fragments, the drawing pad, the webcam, image previews."""
