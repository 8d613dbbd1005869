#include "config/schema.hpp"

#include <stdexcept>

namespace mnigs {

namespace {

// Collects the keys of one section, refusing duplicates and dotted names.
class SectionDeclarer final : public ConfigDeclarer {
 public:
  explicit SectionDeclarer(Schema::Section& section) : section_(section) {}
  void declare(KeySpec spec) override {
    if (spec.name.empty() || spec.name.find('.') != std::string::npos)
      throw std::logic_error("config key name \"" + spec.name + "\" in section " +
                             section_.name + " must be non-empty and without dots");
    for (const auto& k : section_.keys)
      if (k.name == spec.name)
        throw std::logic_error("config key " + section_.name + "." + spec.name +
                               " declared twice");
    section_.keys.push_back(std::move(spec));
  }

 private:
  Schema::Section& section_;
};

}  // namespace

void Schema::add_section(std::string name, std::string owner, std::string help,
                         const std::function<void(ConfigDeclarer&)>& declare) {
  if (const Section* existing = section(name))
    throw std::logic_error("config section \"" + name + "\" is declared twice (by " +
                           existing->owner + " and " + owner + ")");
  Section s{std::move(name), std::move(owner), std::move(help), {}};
  SectionDeclarer declarer(s);
  declare(declarer);
  sections_.push_back(std::move(s));
}

const Schema::Section* Schema::section(std::string_view name) const {
  for (const auto& s : sections_)
    if (s.name == name) return &s;
  return nullptr;
}

const KeySpec* Schema::find(std::string_view section_name, std::string_view key) const {
  const Section* s = section(section_name);
  if (!s) return nullptr;
  for (const auto& k : s->keys)
    if (k.name == key) return &k;
  return nullptr;
}

std::vector<std::string> Schema::section_names() const {
  std::vector<std::string> out;
  for (const auto& s : sections_) out.push_back(s.name);
  return out;
}

std::vector<std::string> Schema::dotted_keys() const {
  std::vector<std::string> out;
  for (const auto& s : sections_)
    for (const auto& k : s.keys) out.push_back(s.name + "." + k.name);
  return out;
}

std::string describe_type(const KeySpec& spec) {
  switch (spec.type) {
    case ValueType::boolean:
      return "true or false (yes/no, on/off)";
    case ValueType::integer:
      return "an integer from " + std::to_string(spec.min) + " to " + std::to_string(spec.max);
    case ValueType::string:
      if (spec.choices.empty()) return "a string";
      {
        std::string s = "one of";
        for (std::size_t i = 0; i < spec.choices.size(); ++i)
          s += (i ? ", " : " ") + spec.choices[i];
        return s;
      }
    case ValueType::string_list:
      return "a list of strings";
    case ValueType::port:
      return "a port number from 1 to 65535";
    case ValueType::port_list:
      return "a list of port numbers from 1 to 65535";
    case ValueType::address:
      return "an IPv4 or IPv6 address, or \"\" for none";
    case ValueType::cidr_list:
      return "a list of IPv4/IPv6 prefixes such as 127.0.0.0/8";
  }
  return "a value";
}

}  // namespace mnigs
