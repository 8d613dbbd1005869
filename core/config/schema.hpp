// The set of config keys mnigsd knows: the core's sections plus one section
// per loaded plugin, each key with type, default and help (see
// <mnigs/config_decl.hpp>). Built once at start-up; read-only afterwards.
#pragma once

#include <mnigs/config_decl.hpp>

#include <functional>
#include <string>
#include <vector>

namespace mnigs {

class Schema {
 public:
  struct Section {
    std::string name;   // "daemon", or a plugin's name
    std::string owner;  // "core" or "plugin <kind>/<name>"
    std::string help;
    std::vector<KeySpec> keys;
  };

  // Adds a section whose keys `declare` fills in. Throws std::logic_error if
  // the section exists (two plugins with one name) or a key is declared twice;
  // whatever `declare` throws propagates and the section is not added.
  void add_section(std::string name, std::string owner, std::string help,
                   const std::function<void(ConfigDeclarer&)>& declare);

  const Section* section(std::string_view name) const;
  const KeySpec* find(std::string_view section, std::string_view key) const;
  const std::vector<Section>& sections() const { return sections_; }
  std::vector<std::string> section_names() const;
  std::vector<std::string> dotted_keys() const;  // "daemon.rpcport", ...

 private:
  std::vector<Section> sections_;
};

// The core's own sections: main, daemon, gateway, subscriber, database, plugins.
void declare_core_keys(Schema& schema);

// A human description of what a key accepts, e.g. "an integer from 1 to 65535".
std::string describe_type(const KeySpec& spec);

}  // namespace mnigs
