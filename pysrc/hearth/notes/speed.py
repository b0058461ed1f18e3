"""How fast the model reads prompts and writes text on this device, for the time estimates the UI shows.

The drafter times every model request as it streams (`NoteDrafter.speed`): the seconds until the
first piece are the prompt's reading, the seconds between pieces are writing (a piece is about one
token). Counts and seconds only, never text. Until something is timed, estimates assume the speeds
below; the page shows no time left until both speeds are measured (`measured`), and never one above
the last it showed (`TimeLeft`).
"""

from __future__ import annotations

from dataclasses import dataclass

# Assumed until measured: the built-in SmolLM2-135M's speed in Chromium on 2 threads when these were set.
PREFILL_TOKENS_PER_S = 92.0
DECODE_TOKENS_PER_S = 7.3

MIN_PIECES = 4  # pieces timed before a writing speed is reported: the first few are noisy


@dataclass
class DraftSpeed:
    prompt_tokens: int = 0  # tokens of every prompt read so far
    prefill_seconds: float = 0.0  # from each request to its first piece
    pieces: int = 0  # pieces written after each request's first
    decode_seconds: float = 0.0  # between those pieces

    def prompt_read(self, tokens: int, seconds: float) -> None:
        """A request's prompt of `tokens` tokens was read: its first piece came `seconds` after the call."""
        self.prompt_tokens += tokens
        self.prefill_seconds += seconds

    def piece_written(self, seconds: float) -> None:
        """One more piece, `seconds` after the one before it."""
        self.pieces += 1
        self.decode_seconds += seconds

    @property
    def prefill_rate(self) -> float:
        """Prompt tokens read per second; 0.0 until a prompt has been timed."""
        return self.prompt_tokens / self.prefill_seconds if self.prefill_seconds > 0 else 0.0

    @property
    def decode_rate(self) -> float:
        """Pieces (about tokens) written per second; 0.0 until `MIN_PIECES` have been timed."""
        return self.pieces / self.decode_seconds if self.decode_seconds > 0 and self.pieces >= MIN_PIECES else 0.0

    @property
    def measured(self) -> bool:
        """Both speeds measured on this device: only then does a time left mean something (the assumed
        speeds are another machine's, and a prompt's reading alone says nothing of the writing)."""
        return self.prefill_rate > 0 and self.decode_rate > 0

    def seconds_for(self, prompt_tokens: int, new_tokens: int) -> float:
        """Time to read `prompt_tokens` and write `new_tokens`, at the speeds measured so far (the
        assumed ones for what is not measured yet)."""
        prefill = self.prefill_rate or PREFILL_TOKENS_PER_S
        decode = self.decode_rate or DECODE_TOKENS_PER_S
        return prompt_tokens / prefill + new_tokens / decode


class TimeLeft:
    """The time left a page shows during one draft: an estimate passes only when it is not above the
    last one shown, else it is withheld (None), so what the clinician reads never climbs while text
    streams. A measured pace that turns out slower than the first one shown makes the line go quiet
    until the estimate comes back down, rather than announce a longer wait."""

    def __init__(self) -> None:
        self.shown: float | None = None

    def __call__(self, estimate: float | None) -> float | None:
        if estimate is None or (self.shown is not None and estimate > self.shown):
            return None
        self.shown = estimate
        return estimate
