"""The MATH answer normalisation of Hendrycks et al. (2021), `strip_string` / `is_equiv`, reimplemented.

Purely string based (no sympy), deterministic: two answers are equal when their normalised forms are.
"""
from __future__ import annotations

import re
from typing import Optional


def _braced_fracs(s: str) -> str:
    """`\\frac12` -> `\\frac{1}{2}`, `\\frac1{72}` -> `\\frac{1}{72}` (a braced numerator is left alone)."""
    parts = s.split("\\frac")
    out = parts[0]
    for part in parts[1:]:
        out += "\\frac"
        if part.startswith("{"):
            out += part
        elif len(part) >= 2:
            numer, rest = part[0], part[1:]
            denom = rest if rest.startswith("{") else "{" + rest[0] + "}" + rest[1:]
            out += "{" + numer + "}" + denom
        else:
            return s  # malformed: leave unchanged
    return out


def _slash_fraction(s: str) -> str:
    """`3/4` (two integers) -> `\\frac{3}{4}`."""
    match = re.fullmatch(r"(-?\d+)/(\d+)", s)
    return f"\\frac{{{match.group(1)}}}{{{match.group(2)}}}" if match else s


def _right_units(s: str) -> str:
    """Drop a trailing `\\text{ unit}` (the rule splits at the first `\\text{ `)."""
    return s.split("\\text{ ")[0] if "\\text{ " in s else s


def _braced_sqrt(s: str) -> str:
    """`\\sqrt3` -> `\\sqrt{3}` (the one character after an unbraced \\sqrt)."""
    parts = s.split("\\sqrt")
    return parts[0] + "".join("\\sqrt" + (p if p.startswith("{") or not p else "{" + p[0] + "}" + p[1:])
                              for p in parts[1:])


def strip_string(s: str) -> str:
    """The normalised form of a MATH answer."""
    s = s.replace("\n", "").replace("\\!", "").replace("\\\\", "\\")
    s = s.replace("tfrac", "frac").replace("dfrac", "frac")
    s = s.replace("\\left", "").replace("\\right", "")
    s = s.replace("^{\\circ}", "").replace("^\\circ", "")
    s = s.replace("\\$", "")
    s = _right_units(s)
    s = s.replace("\\%", "")
    s = s.replace(" .", " 0.").replace("{.", "{0.")
    if not s:
        return s
    if s[0] == ".":
        s = "0" + s
    sides = s.split("=")
    if len(sides) == 2 and len(sides[0]) <= 2:   # "x = 5", "k=5" -> "5"
        s = sides[1]
    s = _braced_sqrt(s)
    s = s.replace(" ", "")
    s = _braced_fracs(s)
    if s == "0.5":
        s = "\\frac{1}{2}"
    return _slash_fraction(s)


def is_equiv(a: Optional[str], b: Optional[str]) -> bool:
    """Equal after `strip_string` (both missing counts as equal, one missing as different)."""
    if a is None or b is None:
        return a is None and b is None
    try:
        return strip_string(a) == strip_string(b)
    except (IndexError, ValueError):
        return a == b
