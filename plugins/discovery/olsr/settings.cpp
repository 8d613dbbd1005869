#include "settings.hpp"

#include <array>

namespace mnigs::olsr {

const char* source_name(Source s) {
  switch (s) {
    case Source::jsoninfo:
      return "jsoninfo";
    case Source::txtinfo:
      return "txtinfo";
    case Source::olsrd2:
      return "olsrd2";
  }
  return "?";
}

void declare(ConfigDeclarer& d) {
  d.declare(string_key("source", "auto",
                       "Which daemon interface to ask: auto (jsoninfo, then txtinfo, then olsrd2), "
                       "jsoninfo, txtinfo or olsrd2",
                       true, {"auto", "jsoninfo", "txtinfo", "olsrd2"}));
  d.declare(string_key("jsoninfo", "127.0.0.1:9090",
                       "olsrd jsoninfo plugin, ADDRESS:PORT or [IPv6]:PORT; \"\" to skip it",
                       true));
  d.declare(string_key("txtinfo", "127.0.0.1:2006",
                       "olsrd txtinfo plugin, ADDRESS:PORT or [IPv6]:PORT; \"\" to skip it", true));
  d.declare(string_key("olsrd2", "127.0.0.1:2009",
                       "olsrd2 (OONF) telnet plugin, ADDRESS:PORT or [IPv6]:PORT; \"\" to skip it",
                       true));
  d.declare(int_key("timeout", 1500, 100, 60000,
                    "Milliseconds one daemon has to answer (connect, request, whole reply)", true));
  d.declare(int_key("maxReplyBytes", 4 << 20, 64 << 10, 64 << 20,
                    "Largest reply read from a daemon, in bytes; larger ones are refused", true));
}

std::optional<Settings> read_settings(const Json::Value& section, std::string* why) {
  auto fail = [&](std::string reason) -> std::optional<Settings> {
    if (why) *why = std::move(reason);
    return std::nullopt;
  };
  Settings s;
  s.limits.timeout = std::chrono::milliseconds(section["timeout"].asInt64());
  s.limits.max_bytes = static_cast<std::size_t>(section["maxReplyBytes"].asInt64());

  const std::string mode = section["source"].asString();
  constexpr std::array<Source, 3> order{Source::jsoninfo, Source::txtinfo, Source::olsrd2};
  for (Source source : order) {
    if (mode != "auto" && mode != source_name(source)) continue;
    const std::string text = section[source_name(source)].asString();
    if (text.empty()) {
      if (mode != "auto")
        return fail(std::string("olsr.source is ") + mode + " but olsr." + mode + " is empty");
      continue;
    }
    std::string bad;
    auto endpoint = parse_endpoint(text, &bad);
    if (!endpoint) return fail(std::string("olsr.") + source_name(source) + ": " + bad);
    s.daemons.push_back({source, *endpoint});
  }
  if (s.daemons.empty())
    return fail(
        "olsr.jsoninfo, olsr.txtinfo and olsr.olsrd2 are all empty: there is nothing to ask");
  return s;
}

}  // namespace mnigs::olsr
