// Changing one key of the YAML config file by editing its text, so that the
// user's comments, key order and blank lines survive (yaml-cpp's emitter drops
// comments). Only the simple layout of mnigs.yaml is edited: a block mapping of
// sections, each a block mapping of keys. Anything else is refused, never guessed.
#pragma once

#include <json/value.h>

#include <stdexcept>
#include <string>
#include <string_view>

namespace mnigs {

// The text cannot be edited without risking a change nobody asked for.
class YamlEditError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Renders a typed value as one line of YAML: bool as true/false, numbers as is,
// strings plain when YAML reads them back as the same string, otherwise
// double-quoted with escapes ("yes", "123", "a: b", "", "::1/128", ...), arrays
// as a flow sequence `[a, b]` (`[]` when empty), objects as `{k: v}`, null as
// null. YAML::Load of the result gives back the value. Never fails.
std::string render_yaml_value(const Json::Value& value);

// Returns `text` with `section.key` set to `value_yaml` (one line of rendered
// YAML). Every other line is kept byte for byte, comments and blank lines
// included, as are CRLF line ends, a BOM and `---` / `...` markers.
// - An existing key has its value replaced in place: a scalar or flow value on
//   the key's line, plus the more-indented lines (or `- ` entries) of a block
//   value below it. A trailing comment on the key's line is kept; comment lines
//   inside a replaced block value are dropped.
// - A missing key becomes the last key of its section, with the indentation of
//   the section's keys, after the section's last line that is neither blank nor
//   a comment at the top level's column.
// - A missing section is added at the end (before `...`), after a blank line
//   unless the text already ends with one. Empty or comment-only text is fine.
// Every result is checked before it is returned: it must parse, `section.key`
// must read as `value_yaml` does on its own, and every other section and key
// must read exactly as before.
// Throws YamlEditError when that check fails or the text cannot be edited
// safely: invalid YAML, several documents, a top level or section that is not
// a block mapping (flow `{...}`, a scalar, a sequence), tabs in indentation,
// anchors, aliases or merge keys on the path, a key or section appearing
// twice, keys that cannot be told apart from multi-line values, or a
// `value_yaml` that is not valid single-line YAML.
std::string set_yaml_value(std::string_view text, std::string_view section, std::string_view key,
                           std::string_view value_yaml);

}  // namespace mnigs
