#pragma once
// A 5x7 pixel bitmap font for printable ASCII (32..126): the text of
// convkit's PNG pictures (plot titles, axis labels, legends, tick numbers,
// class indices on sample grids). Each glyph is 7 rows, top row first; bit 4
// of a row is its leftmost pixel. Glyphs advance 6 pixels (one blank column).
#include <cstdint>
#include <string>

namespace ck::font {

inline constexpr int kWidth = 5, kHeight = 7, kAdvance = 6;

// Ensures: the 7 rows of `c`'s glyph; '?' for characters outside 32..126.
const uint8_t* glyph(char c);

// Pixels from the left edge of the first glyph to the end of the last one's advance.
inline int text_width(const std::string& text) { return static_cast<int>(text.size()) * kAdvance; }

}  // namespace ck::font
