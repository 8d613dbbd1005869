#include "config/yaml_edit.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <optional>
#include <utility>
#include <vector>

namespace mnigs {
namespace {

constexpr auto npos = std::string_view::npos;

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_space(char c) { return c == ' ' || c == '\t'; }

std::string hex_byte(unsigned char c) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "\\x%02X", c);
  return buf;
}

// ---------------------------------------------------------------------------
// Rendering

// Words some YAML reader (1.1 booleans, null) would not take as a string. Case
// is ignored: quoting "Yes" or "NULL" costs nothing.
bool is_reserved_word(std::string_view s) {
  static constexpr std::string_view words[] = {"y",   "n",    "yes",   "no",  "on",
                                               "off", "true", "false", "null"};
  if (s.size() > 5) return false;
  std::string lower(s);
  for (char& c : lower)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return std::find(std::begin(words), std::end(words), lower) != std::end(words);
}

// Deliberately narrower than what YAML allows in a plain scalar: a string
// starting with a letter, '/' or '_' and made of letters, digits, inner spaces
// and a few punctuation marks cannot be a number, a bool, null, an indicator,
// a comment or a mapping, in block or flow context, under YAML 1.1 or 1.2.
bool can_be_plain(std::string_view s) {
  if (s.empty() || s.back() == ' ') return false;
  char first = s.front();
  if (!is_alpha(first) && first != '/' && first != '_') return false;
  for (char c : s)
    if (!is_alpha(c) && !is_digit(c) && c != ' ' && std::string_view("-_./+@%=~").find(c) == npos)
      return false;
  return !is_reserved_word(s);
}

std::string double_quoted(std::string_view s) {
  std::string out = "\"";
  for (std::size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    auto next = [&](std::size_t k) {
      return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0;
    };
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\0':
        out += "\\0";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += hex_byte(c);
        } else if (c == 0xC2 && next(1) >= 0x80 && next(1) <= 0x9F) {
          // C1 controls are not printable YAML, and U+0085 is a line break to
          // YAML 1.1 readers; \xNN names the code point, not the byte.
          out += hex_byte(next(1));
          i += 1;
        } else if (c == 0xE2 && next(1) == 0x80 && (next(2) == 0xA8 || next(2) == 0xA9)) {
          out += next(2) == 0xA8 ? "\\L" : "\\P";  // line / paragraph separators
          i += 2;
        } else if (c == 0xEF && next(1) == 0xBB && next(2) == 0xBF) {
          out += "\\uFEFF";  // a byte order mark inside the text
          i += 2;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
  return out;
}

std::string render_string(std::string_view s) {
  return can_be_plain(s) ? std::string(s) : double_quoted(s);
}

std::string render_real(double d) {
  if (std::isnan(d)) return ".nan";
  if (std::isinf(d)) return d < 0 ? "-.inf" : ".inf";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
  std::string s(buf, ec == std::errc() ? end : buf);
  // YAML 1.1 wants a '.' in a float; without one "2" would read as an integer.
  if (s.find('.') == std::string::npos) {
    auto e = s.find('e');
    s.insert(e == std::string::npos ? s.size() : e, ".0");
  }
  return s;
}

// ---------------------------------------------------------------------------
// The text, as lines

struct Line {
  std::string_view text;  // without the line break
  std::string_view eol;   // "\n", "\r\n", or "" on an unterminated last line
};

std::size_t indent_of(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size() && s[i] == ' ') ++i;
  return i;
}

bool is_blank(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return is_space(c); });
}

bool is_comment(std::string_view s) {
  auto i = s.find_first_not_of(" \t");
  return i != npos && s[i] == '#';
}

// Neither blank nor a comment.
bool is_content(std::string_view s) { return !is_blank(s) && !is_comment(s); }

bool is_marker(std::string_view s, std::string_view marker) {
  return s.substr(0, 3) == marker && (s.size() == 3 || is_space(s[3]));
}

bool is_seq_entry(std::string_view s, std::size_t at) {
  return at < s.size() && s[at] == '-' && (at + 1 == s.size() || is_space(s[at + 1]));
}

// Index just past the quoted scalar starting at `at`, or npos when it does not
// close on this line.
std::size_t skip_quoted(std::string_view s, std::size_t at) {
  char q = s[at];
  for (std::size_t i = at + 1; i < s.size(); ++i) {
    if (q == '"' && s[i] == '\\') {
      ++i;
    } else if (s[i] == q) {
      if (q == '\'' && i + 1 < s.size() && s[i + 1] == '\'') {
        ++i;  // '' is an escaped quote
        continue;
      }
      return i + 1;
    }
  }
  return npos;
}

// Start of the comment ending a value that starts at `from`, or npos. A quote
// opens a scalar only where a token can start; "it's" is plain text. A quoted
// scalar left open continues on later lines, so this line has no comment.
std::size_t find_comment(std::string_view s, std::size_t from) {
  for (std::size_t i = from; i < s.size(); ++i) {
    char c = s[i];
    bool token_start = i == from || std::string_view(" \t[{,").find(s[i - 1]) != npos;
    if ((c == '"' || c == '\'') && token_start) {
      std::size_t end = skip_quoted(s, i);
      if (end == npos) return npos;
      i = end - 1;
    } else if (c == '#' && i > 0 && is_space(s[i - 1])) {
      return i;
    }
  }
  return npos;
}

struct KeyLine {
  std::size_t colon = 0;        // the ':' ending the key
  std::size_t value_begin = 0;  // first character after the colon's blanks
  std::size_t value_end = 0;    // just past the value; colon + 1 when there is none
  bool has_comment = false;
  bool empty_value() const { return value_end == colon + 1; }
};

// Splits `key: value  # comment` with the key at column `col`. Plain, "double"
// and 'single' quoted keys; anything fancier (?, anchors, tags) gives nullopt.
std::optional<KeyLine> parse_key_line(std::string_view s, std::size_t col) {
  std::size_t i = col, n = s.size();
  if (i >= n) return std::nullopt;
  if (s[i] == '"' || s[i] == '\'') {
    i = skip_quoted(s, i);
    if (i == npos) return std::nullopt;
    while (i < n && is_space(s[i])) ++i;
    if (i >= n || s[i] != ':') return std::nullopt;
  } else {
    if (std::string_view("?&*!|>%@`[]{},#-").find(s[i]) != npos) return std::nullopt;
    for (; i < n; ++i) {
      if (s[i] == ':' && (i + 1 == n || is_space(s[i + 1]))) break;
      if (s[i] == '#' && is_space(s[i - 1])) return std::nullopt;
    }
    if (i >= n) return std::nullopt;
  }
  KeyLine k;
  k.colon = i;
  std::size_t j = i + 1;
  while (j < n && is_space(s[j])) ++j;
  k.value_begin = j;
  std::size_t comment = find_comment(s, j);
  std::size_t end = comment == npos ? n : comment;
  while (end > i + 1 && is_space(s[end - 1])) --end;
  k.value_end = end;
  k.has_comment = comment != npos;
  return k;
}

std::string line_no(std::size_t index) { return "line " + std::to_string(index + 1); }

// A key of a block mapping as yaml-cpp found it.
struct KeyRef {
  std::string name;
  std::size_t line = 0;
  std::size_t column = 0;
  YAML::Node value;
};

std::vector<KeyRef> collect_keys(const YAML::Node& map, const std::string& where) {
  std::vector<KeyRef> keys;
  for (auto it = map.begin(); it != map.end(); ++it) {
    // A copy: it->first lives in a proxy that dies with the expression.
    const YAML::Node k = it->first;
    const YAML::Mark mark = k.Mark();
    if (mark.line < 0 || mark.column < 0)
      throw YamlEditError("cannot locate the keys of " + where + " in the text");
    std::size_t line = static_cast<std::size_t>(mark.line);
    if (!k.IsScalar())
      throw YamlEditError(where + " has a key that is not a simple name (" + line_no(line) + ")");
    if (k.Scalar() == "<<" && k.Tag() == "?")
      throw YamlEditError("merge keys (<<) are not supported (" + line_no(line) + ")");
    for (const auto& prev : keys)
      if (prev.name == k.Scalar())
        throw YamlEditError("\"" + prev.name + "\" appears twice in " + where + " (lines " +
                            std::to_string(prev.line + 1) + " and " + std::to_string(line + 1) +
                            ")");
    keys.push_back(KeyRef{k.Scalar(), line, static_cast<std::size_t>(mark.column), it->second});
  }
  return keys;
}

// ---------------------------------------------------------------------------
// Checking the result

bool same_node(const YAML::Node& a, const YAML::Node& b, int depth = 0) {
  // Aliases can make a node contain itself.
  if (depth > 64) throw YamlEditError("values are nested too deeply to compare");
  if (a.Type() != b.Type() || a.Tag() != b.Tag()) return false;
  switch (a.Type()) {
    case YAML::NodeType::Scalar:
      return a.Scalar() == b.Scalar();
    case YAML::NodeType::Sequence:
    case YAML::NodeType::Map: {
      if (a.size() != b.size()) return false;
      for (auto i = a.begin(), j = b.begin(); i != a.end() && j != b.end(); ++i, ++j) {
        if (a.IsMap()) {
          if (!same_node(i->first, j->first, depth + 1) ||
              !same_node(i->second, j->second, depth + 1))
            return false;
        } else if (!same_node(*i, *j, depth + 1)) {
          return false;
        }
      }
      return true;
    }
    default:
      return true;
  }
}

// Checks that `after` has every entry of `before` (a map, or null for none)
// unchanged and in order, and `changed` exactly once; returns `changed`'s node.
// `where` names the mapping in messages, `prefix` goes before its key names.
YAML::Node same_except(const YAML::Node& before, const YAML::Node& after, std::string_view changed,
                       const std::string& where, const std::string& prefix) {
  if (!after.IsMap())
    throw YamlEditError("the edited text would not have " + where + " as a mapping");
  std::vector<std::pair<std::string, YAML::Node>> old_entries, new_entries;
  if (before.IsMap())
    for (auto it = before.begin(); it != before.end(); ++it)
      if (it->first.Scalar() != changed) old_entries.emplace_back(it->first.Scalar(), it->second);
  // Never assign to a bound YAML::Node: that rewrites the node it refers to.
  std::optional<YAML::Node> found;
  int count = 0;
  for (auto it = after.begin(); it != after.end(); ++it) {
    if (!it->first.IsScalar())
      throw YamlEditError("the edited text would have a key that is not a name in " + where);
    if (it->first.Scalar() == changed) {
      if (count++ == 0) found.emplace(it->second);
    } else {
      new_entries.emplace_back(it->first.Scalar(), it->second);
    }
  }
  if (count != 1)
    throw YamlEditError("the edited text would have " + prefix + std::string(changed) +
                        (count ? " more than once" : " missing"));
  if (old_entries.size() != new_entries.size())
    throw YamlEditError("the edited text would add or remove other keys in " + where);
  for (std::size_t i = 0; i < old_entries.size(); ++i)
    if (old_entries[i].first != new_entries[i].first ||
        !same_node(old_entries[i].second, new_entries[i].second))
      throw YamlEditError("the edited text would also change " + prefix + old_entries[i].first);
  return *found;
}

std::vector<YAML::Node> load_all(std::string_view text, const std::string& what) {
  try {
    return YAML::LoadAll(std::string(text));
  } catch (const YAML::Exception& e) {
    throw YamlEditError(what + " is not valid YAML (" + e.what() + ")");
  }
}

// ---------------------------------------------------------------------------
// The edit

class Editor {
 public:
  Editor(std::string_view text, std::string_view section, std::string_view key, std::string value)
      : section_(section), key_(key), value_(std::move(value)) {
    if (text.substr(0, 3) == "\xEF\xBB\xBF") {
      bom_ = text.substr(0, 3);
      text.remove_prefix(3);
    }
    split(text);
  }

  std::string run(std::string_view original) {
    check_layout();
    auto docs = load_all(original, "the file");
    if (docs.size() > 1) throw YamlEditError("the file holds more than one YAML document");
    before_ = docs.empty() ? YAML::Node() : docs.front();
    find_document();

    if (before_.IsNull()) {
      for (std::size_t i = doc_begin_; i < doc_end_; ++i)
        if (is_content(lines_[i].text))
          throw YamlEditError("the top level is not a mapping (" + line_no(i) + ")");
      return append_section(0);
    }
    if (!before_.IsMap()) throw YamlEditError("the top level is not a mapping");
    if (before_.Style() == YAML::EmitterStyle::Flow)
      throw YamlEditError(
          "the top level is written in flow style ({...}); only block style can "
          "be edited");
    auto roots = collect_keys(before_, "the top level");
    if (roots.empty()) throw YamlEditError("the top level is not a block mapping");
    std::size_t root_indent = roots.front().column;
    std::vector<std::size_t> root_lines;
    for (const auto& r : roots) root_lines.push_back(r.line);
    check_key_lines(root_lines, doc_begin_, doc_end_, root_indent, "the top level");

    auto sec = std::find_if(roots.begin(), roots.end(),
                            [&](const KeyRef& r) { return r.name == section_; });
    if (sec == roots.end()) return append_section(root_indent);
    section_value_ = sec->value;
    section_existed_ = true;

    std::size_t sec_line = sec->line;
    std::size_t sec_end = doc_end_;
    for (const auto& r : roots)
      if (r.line > sec_line) sec_end = std::min(sec_end, r.line);
    check_section_line(sec_line, root_indent);

    const YAML::Node& node = sec->value;
    if (node.IsNull()) {
      for (std::size_t i = sec_line + 1; i < sec_end; ++i)
        if (is_content(lines_[i].text))
          throw YamlEditError("section " + section_ + " is not a mapping (" + line_no(i) + ")");
      return insert_key(sec_line, sec_end, root_indent, root_indent + 2);
    }
    if (node.IsSequence())
      throw YamlEditError("section " + section_ + " is a sequence, not a mapping");
    if (!node.IsMap()) throw YamlEditError("section " + section_ + " is not a mapping");
    if (node.Style() == YAML::EmitterStyle::Flow)
      throw YamlEditError("section " + section_ +
                          " is written in flow style ({...}); only block style can be edited");

    auto keys = collect_keys(node, "section " + section_);
    if (keys.empty()) throw YamlEditError("section " + section_ + " is not a block mapping");
    std::size_t key_indent = keys.front().column;
    std::vector<std::size_t> key_lines;
    for (const auto& k : keys) key_lines.push_back(k.line);
    check_key_lines(key_lines, sec_line + 1, sec_end, key_indent, "section " + section_);

    auto hit =
        std::find_if(keys.begin(), keys.end(), [&](const KeyRef& k) { return k.name == key_; });
    if (hit == keys.end()) return insert_key(sec_line, sec_end, root_indent, key_indent);
    std::size_t key_end = sec_end;
    for (const auto& k : keys)
      if (k.line > hit->line) key_end = std::min(key_end, k.line);
    return replace_value(hit->line, key_end, key_indent);
  }

  // Parses the result and compares it with the text before; see the header.
  void verify(const std::string& result, const YAML::Node& expected) const {
    auto docs = load_all(result, "the edited text");
    if (docs.size() != 1) throw YamlEditError("the edited text would not be one YAML document");
    YAML::Node after_section = same_except(before_, docs.front(), section_, "the top level", "");
    YAML::Node before_section = section_existed_ ? section_value_ : YAML::Node();
    YAML::Node after_value =
        same_except(before_section, after_section, key_, "section " + section_, section_ + ".");
    if (!same_node(after_value, expected))
      throw YamlEditError("the edited text would not read back the new value of " + section_ + "." +
                          key_);
  }

 private:
  void split(std::string_view body) {
    std::size_t pos = 0, crlf = 0, lf = 0;
    while (pos < body.size()) {
      std::size_t nl = body.find('\n', pos);
      if (nl == npos) {
        lines_.push_back({body.substr(pos), {}});
        break;
      }
      std::size_t end = nl;
      if (end > pos && body[end - 1] == '\r') --end;
      lines_.push_back({body.substr(pos, end - pos), body.substr(end, nl + 1 - end)});
      (end < nl ? crlf : lf)++;
      pos = nl + 1;
    }
    eol_ = crlf > lf ? "\r\n" : "\n";
  }

  // Tabs and bare CRs would make the column and line arithmetic below wrong.
  void check_layout() const {
    for (std::size_t i = 0; i < lines_.size(); ++i) {
      std::string_view s = lines_[i].text;
      if (s.find('\r') != npos)
        throw YamlEditError(line_no(i) + " has a carriage return that does not end the line");
      std::size_t first = s.find_first_not_of(' ');
      if (first != npos && s[first] == '\t' && !is_blank(s))
        throw YamlEditError(line_no(i) + " uses a tab for indentation");
    }
  }

  void find_document() {
    doc_begin_ = 0;
    for (std::size_t i = 0; i < lines_.size(); ++i) {
      std::string_view s = lines_[i].text;
      if (!is_content(s) || s.front() == '%') continue;
      if (is_marker(s, "---")) {
        if (is_content(s.substr(3)))
          throw YamlEditError("content after '---' on " + line_no(i) + " is not supported");
        doc_begin_ = i + 1;
      }
      break;
    }
    doc_end_ = lines_.size();
    for (std::size_t i = doc_begin_; i < lines_.size(); ++i)
      if (is_marker(lines_[i].text, "...")) {
        doc_end_ = i;
        break;
      }
  }

  // The lines yaml-cpp reports keys on must be exactly the lines that look like
  // keys at that column: otherwise a multi-line value has a line that passes
  // for a key, and extents computed from the text would be wrong.
  void check_key_lines(const std::vector<std::size_t>& key_lines, std::size_t begin,
                       std::size_t end, std::size_t indent, const std::string& where) const {
    std::vector<std::size_t> looks_like_key;
    for (std::size_t i = begin; i < end; ++i) {
      std::string_view s = lines_[i].text;
      if (!is_content(s)) continue;
      std::size_t ind = indent_of(s);
      if (ind > indent || (ind == indent && is_seq_entry(s, ind))) continue;
      looks_like_key.push_back(i);
    }
    for (std::size_t line : key_lines)
      if (line >= lines_.size() || indent_of(lines_[line].text) != indent)
        throw YamlEditError("cannot locate the keys of " + where + " in the text (" +
                            line_no(line) + ")");
    if (looks_like_key != key_lines) {
      std::size_t at = 0;
      while (at < looks_like_key.size() && at < key_lines.size() &&
             looks_like_key[at] == key_lines[at])
        ++at;
      std::size_t line = at < looks_like_key.size() ? looks_like_key[at] : key_lines[at];
      throw YamlEditError("cannot tell the keys of " + where + " from multi-line values (" +
                          line_no(line) + ")");
    }
  }

  void check_section_line(std::size_t line, std::size_t indent) const {
    std::string_view s = lines_[line].text;
    auto k = parse_key_line(s, indent);
    if (!k)
      throw YamlEditError("cannot read the key of section " + section_ + " on " + line_no(line));
    if (k->empty_value()) return;
    std::string_view value = s.substr(k->value_begin, k->value_end - k->value_begin);
    std::string why;
    switch (value.front()) {
      case '{':
        why = " is written in flow style ({...}); only block style can be edited";
        break;
      case '[':
        why = " is a sequence, not a mapping";
        break;
      case '&':
      case '*':
        why = " uses an anchor or alias, which cannot be edited safely";
        break;
      default:
        why = " is not a block mapping (it has the value `" + std::string(value) + "`)";
    }
    throw YamlEditError("section " + section_ + why + " (" + line_no(line) + ")");
  }

  std::string value_part() const { return value_.empty() ? "" : " " + value_; }

  std::string assemble(std::size_t from, std::size_t to, const std::string& replacement) const {
    std::string out(bom_);
    for (std::size_t i = 0; i < from; ++i) (out += lines_[i].text) += lines_[i].eol;
    out += replacement;
    for (std::size_t i = to; i < lines_.size(); ++i) (out += lines_[i].text) += lines_[i].eol;
    return out;
  }

  // New lines go at `pos`; the line before may be an unterminated last line.
  std::string eol_before(std::size_t pos) const {
    return pos > 0 && lines_[pos - 1].eol.empty() ? eol_ : "";
  }

  std::string append_section(std::size_t root_indent) const {
    std::size_t pos = doc_end_;
    std::string add = eol_before(pos);
    if (pos > 0) {
      std::string_view prev = lines_[pos - 1].text;
      if (!is_blank(prev) && !is_marker(prev, "---") && prev.front() != '%') add += eol_;
    }
    add += std::string(root_indent, ' ') + render_string(section_) + ":" + eol_;
    add += std::string(root_indent + 2, ' ') + render_string(key_) + ":" + value_part() + eol_;
    return assemble(pos, pos, add);
  }

  // Adds the key after the section's last line that is neither blank nor a
  // comment at the top level's column: those lead into whatever comes next.
  std::string insert_key(std::size_t sec_line, std::size_t sec_end, std::size_t root_indent,
                         std::size_t key_indent) const {
    std::size_t last = sec_line;
    for (std::size_t i = sec_end; i-- > sec_line + 1;) {
      std::string_view s = lines_[i].text;
      if (is_blank(s) || (is_comment(s) && indent_of(s) <= root_indent)) continue;
      last = i;
      break;
    }
    std::size_t pos = last + 1;
    std::string add = eol_before(pos) + std::string(key_indent, ' ') + render_string(key_) + ":" +
                      value_part() + eol_;
    return assemble(pos, pos, add);
  }

  // Replaces the key's line and the lines of its value that follow. Trailing
  // blank and comment lines are kept: they usually describe the next key, and
  // after a one-line value they can only be comments.
  std::string replace_value(std::size_t key_line, std::size_t key_end,
                            std::size_t key_indent) const {
    const Line& line = lines_[key_line];
    auto k = parse_key_line(line.text, key_indent);
    if (!k) throw YamlEditError("cannot read the key " + key_ + " on " + line_no(key_line));
    if (!k->empty_value() && (line.text[k->value_begin] == '&' || line.text[k->value_begin] == '*'))
      throw YamlEditError(section_ + "." + key_ +
                          " uses an anchor or alias, which cannot be "
                          "edited safely (" +
                          line_no(key_line) + ")");
    std::size_t end = key_end;
    while (end > key_line + 1 && !is_content(lines_[end - 1].text)) --end;
    std::string out(line.text.substr(0, k->colon + 1));
    out += value_part();
    if (k->has_comment) out += line.text.substr(k->value_end);
    out += lines_[end - 1].eol;  // "" when the value ran to an unterminated last line
    return assemble(key_line, end, out);
  }

  std::string_view bom_;
  std::vector<Line> lines_;
  std::string eol_ = "\n";
  std::size_t doc_begin_ = 0, doc_end_ = 0;
  std::string section_, key_, value_;
  YAML::Node before_;
  YAML::Node section_value_;
  bool section_existed_ = false;
};

}  // namespace

std::string render_yaml_value(const Json::Value& value) {
  switch (value.type()) {
    case Json::nullValue:
      return "null";
    case Json::booleanValue:
      return value.asBool() ? "true" : "false";
    case Json::intValue:
      return std::to_string(value.asLargestInt());
    case Json::uintValue:
      return std::to_string(value.asLargestUInt());
    case Json::realValue:
      return render_real(value.asDouble());
    case Json::stringValue:
      return render_string(value.asString());
    case Json::arrayValue: {
      std::string out = "[";
      for (Json::ArrayIndex i = 0; i < value.size(); ++i)
        (out += i ? ", " : "") += render_yaml_value(value[i]);
      return out + "]";
    }
    case Json::objectValue: {
      std::string out = "{";
      bool first = true;
      for (const auto& name : value.getMemberNames()) {
        (out += first ? "" : ", ") += render_string(name) + ": " + render_yaml_value(value[name]);
        first = false;
      }
      return out + "}";
    }
  }
  return "null";
}

std::string set_yaml_value(std::string_view text, std::string_view section, std::string_view key,
                           std::string_view value_yaml) {
  std::string dotted = std::string(section) + "." + std::string(key);
  if (section.empty() || key.empty()) throw YamlEditError("empty section or key name: " + dotted);
  while (!value_yaml.empty() && is_space(value_yaml.front())) value_yaml.remove_prefix(1);
  while (!value_yaml.empty() && is_space(value_yaml.back())) value_yaml.remove_suffix(1);
  if (value_yaml.find_first_of("\r\n") != npos)
    throw YamlEditError("the new value of " + dotted + " is not a single line");
  auto parsed = load_all(value_yaml, "the new value of " + dotted);
  if (parsed.size() > 1)
    throw YamlEditError("the new value of " + dotted + " is not a single YAML value");
  YAML::Node expected = parsed.empty() ? YAML::Node() : parsed.front();

  Editor editor(text, section, key, std::string(value_yaml));
  std::string result = editor.run(text);
  editor.verify(result, expected);
  return result;
}

}  // namespace mnigs
