"""The Panel app: what a visitor sees. Built in the worker, drawn on the page (web/boot.js)."""
