#include "config/schema.hpp"

#include <memory>
#include <stdexcept>

namespace mnigs {

class Schema::Declarer final : public ConfigDeclarer {
 public:
  Declarer(Schema& schema, std::string section) : schema_(schema), section_(std::move(section)) {}
  void declare(KeySpec spec) override {
    for (auto& s : schema_.sections_) {
      if (s.name != section_) continue;
      for (const auto& k : s.keys)
        if (k.name == spec.name)
          throw std::logic_error("config key " + section_ + "." + spec.name + " declared twice");
      if (spec.name.empty() || spec.name.find('.') != std::string::npos)
        throw std::logic_error("config key name \"" + spec.name + "\" in section " + section_ +
                               " must be non-empty and without dots");
      s.keys.push_back(std::move(spec));
      return;
    }
    throw std::logic_error("config section " + section_ + " was removed");
  }

 private:
  Schema& schema_;
  std::string section_;
};

ConfigDeclarer& Schema::add_section(std::string name, std::string owner, std::string help) {
  if (section(name))
    throw std::logic_error("config section \"" + name + "\" is declared twice (by " +
                           section(name)->owner + " and " + owner + ")");
  sections_.push_back(Section{name, std::move(owner), std::move(help), {}});
  declarers_.push_back(std::make_unique<Declarer>(*this, std::move(name)));
  return *declarers_.back();
}

void Schema::remove_section(const std::string& name) {
  std::erase_if(sections_, [&](const Section& s) { return s.name == name; });
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
