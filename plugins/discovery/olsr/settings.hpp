// The olsr plugin's config section, read and checked in one place.
#pragma once

#include <json/value.h>

#include <mnigs/config_decl.hpp>
#include <optional>
#include <string>
#include <vector>

#include "exchange.hpp"

namespace mnigs::olsr {

// Where a view of the mesh comes from.
enum class Source { jsoninfo, txtinfo, olsrd2 };

const char* source_name(Source s);

struct Settings {
  struct Daemon {
    Source source;
    boost::asio::ip::tcp::endpoint endpoint;
  };
  // Asked in this order until one answers: one entry for a fixed source,
  // up to three for "auto" (jsoninfo, txtinfo, olsrd2; empty addresses left out).
  std::vector<Daemon> daemons;
  Exchange::Limits limits;
};

// Declares the section's keys.
void declare(ConfigDeclarer& d);

// Reads a validated section (every declared key present). nullopt with `why`
// set when the values do not fit together.
std::optional<Settings> read_settings(const Json::Value& section, std::string* why);

}  // namespace mnigs::olsr
