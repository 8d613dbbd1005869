#include "table.hpp"

#include <algorithm>
#include <cstdint>

namespace mnigs::cli {
namespace {

// One code point decoded from the start of `s`, or length 0 when `s` does not
// start with well-formed UTF-8 (stray continuation byte, truncated sequence,
// overlong form, surrogate, beyond U+10FFFF).
struct Decoded {
  std::uint32_t cp = 0;
  std::size_t length = 0;
};

Decoded decode(std::string_view s) {
  const auto lead = static_cast<unsigned char>(s[0]);
  if (lead < 0x80) return {lead, 1};
  std::size_t length;
  std::uint32_t cp, min;
  if ((lead & 0xe0) == 0xc0)
    length = 2, cp = lead & 0x1f, min = 0x80;
  else if ((lead & 0xf0) == 0xe0)
    length = 3, cp = lead & 0x0f, min = 0x800;
  else if ((lead & 0xf8) == 0xf0)
    length = 4, cp = lead & 0x07, min = 0x10000;
  else
    return {};
  if (s.size() < length) return {};
  for (std::size_t i = 1; i < length; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if ((c & 0xc0) != 0x80) return {};
    cp = cp << 6 | (c & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return {};
  return {cp, length};
}

// Code points that change how a terminal interprets or lays out what follows.
bool is_unsafe(std::uint32_t cp) {
  return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x061c || cp == 0x200e || cp == 0x200f ||
         (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

// Blocks a terminal may draw two columns wide (East Asian Wide and Fullwidth,
// emoji); generous on purpose, see display_width.
bool is_wide(std::uint32_t cp) {
  return (cp >= 0x1100 && cp <= 0x115f) ||    // Hangul Jamo initials
         (cp >= 0x231a && cp <= 0x23ff) ||    // watch, hourglass, media symbols
         (cp >= 0x2600 && cp <= 0x27bf) ||    // miscellaneous symbols, dingbats
         (cp >= 0x2b00 && cp <= 0x2bff) ||    // arrows and stars shown as emoji
         (cp >= 0x2e80 && cp <= 0xa4cf) ||    // CJK radicals .. Yi
         (cp >= 0xa960 && cp <= 0xa97f) ||    // Hangul Jamo extended-A
         (cp >= 0xac00 && cp <= 0xd7a3) ||    // Hangul syllables
         (cp >= 0xf900 && cp <= 0xfaff) ||    // CJK compatibility ideographs
         (cp >= 0xfe10 && cp <= 0xfe19) ||    // vertical forms
         (cp >= 0xfe30 && cp <= 0xfe6f) ||    // CJK compatibility and small forms
         (cp >= 0xff00 && cp <= 0xff60) ||    // fullwidth forms
         (cp >= 0xffe0 && cp <= 0xffe6) ||    // fullwidth signs
         (cp >= 0x16fe0 && cp <= 0x18cff) ||  // Tangut, Khitan
         (cp >= 0x1b000 && cp <= 0x1b2ff) ||  // Kana supplement, Nushu
         (cp >= 0x1f000 && cp <= 0x1faff) ||  // mahjong .. emoji
         (cp >= 0x20000 && cp <= 0x3fffd);    // CJK extensions
}

}  // namespace

std::string terminal_safe(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  while (!text.empty()) {
    const Decoded d = decode(text);
    if (d.length == 0) {
      out += '?';
      text.remove_prefix(1);
      continue;
    }
    if (is_unsafe(d.cp))
      out += '?';
    else
      out.append(text.substr(0, d.length));
    text.remove_prefix(d.length);
  }
  return out;
}

std::size_t display_width(std::string_view text) {
  std::size_t width = 0;
  while (!text.empty()) {
    const Decoded d = decode(text);
    // A stray byte (not expected after terminal_safe) takes one column as '?'.
    const std::size_t length = d.length ? d.length : 1;
    width += d.length && is_wide(d.cp) ? 2 : 1;
    text.remove_prefix(length);
  }
  return width;
}

std::string render_table(const std::vector<std::string>& headers,
                         const std::vector<std::vector<std::string>>& rows,
                         std::string_view indent) {
  std::size_t columns = headers.size();
  for (const auto& row : rows) columns = std::max(columns, row.size());
  if (columns == 0) return "";

  std::vector<std::vector<std::string>> lines;
  lines.reserve(rows.size() + 1);
  auto add = [&](const std::vector<std::string>& cells) {
    std::vector<std::string> line(columns);
    for (std::size_t i = 0; i < columns; ++i) {
      line[i] = i < cells.size() ? terminal_safe(cells[i]) : "";
      if (line[i].empty()) line[i].assign(1, '-');
    }
    lines.push_back(std::move(line));
  };
  if (!headers.empty()) add(headers);
  for (const auto& row : rows) add(row);

  std::vector<std::size_t> widths(columns, 0);
  for (const auto& line : lines)
    for (std::size_t i = 0; i < columns; ++i)
      widths[i] = std::max(widths[i], display_width(line[i]));

  constexpr std::size_t gap = 2;
  std::string out;
  for (const auto& line : lines) {
    out += indent;
    for (std::size_t i = 0; i < columns; ++i) {
      out += line[i];
      if (i + 1 < columns) out.append(widths[i] - display_width(line[i]) + gap, ' ');
    }
    out += '\n';
  }
  return out;
}

}  // namespace mnigs::cli
