// Plain-text tables for mnigs-cli, sized to their content and safe to print
// whatever a peer put into a cell.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace mnigs::cli {

// `text` made harmless for a terminal: every C0 control (tab and newline
// included), DEL, C1 control (U+0080..U+009F), bidirectional override or
// isolate (U+061C, U+200E, U+200F, U+202A..U+202E, U+2066..U+2069), line or
// paragraph separator (U+2028, U+2029), and every byte that is not part of
// well-formed UTF-8 becomes '?'. Node names, errors and the like come from
// other nodes, and an escape sequence in them would reach the admin's
// terminal.
std::string terminal_safe(std::string_view text);

// Terminal columns `text` (UTF-8, already terminal_safe) takes: 2 for each
// code point of the East Asian wide and fullwidth blocks and of the emoji
// planes, 1 for every other code point. Errs wide (combining marks count 1,
// every symbol block that may render wide counts 2), so a misjudged
// character adds padding but never eats the gap between columns.
std::size_t display_width(std::string_view text);

// `headers` (none: no header line) and `rows` as lines, each starting with
// `indent` and ending in '\n'. Every column is as wide as its widest cell,
// header included; columns are separated by two spaces; the last column is
// not padded, so no line ends in spaces. Cells go through terminal_safe; an
// empty cell, or one a row lacks, shows as "-" so that every column keeps a
// visible value.
std::string render_table(const std::vector<std::string>& headers,
                         const std::vector<std::vector<std::string>>& rows,
                         std::string_view indent = "");

}  // namespace mnigs::cli
