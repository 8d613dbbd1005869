// OpenDHT's log lines: formatting them, and the two refusals that OpenDHT
// reports only there. SecureDht drops a badly signed value handed to our
// listener before any callback of ours, and a storing node refuses to let
// one signer overwrite another's value; the log line is the only trace, so
// DhtNode counts those lines. The texts are OpenDHT's (2.4 and older), as
// its securedht.cpp and dht.cpp write them. No OpenDHT header.
#pragma once

#include <cstdarg>
#include <string>

namespace mnigs {

enum class OpenDhtLogEvent { other, bad_signature, forged };

// What a line says, by its printf format (matched on the format, not the
// formatted text, so no argument can fake it).
OpenDhtLogEvent classify_opendht_log(const char* format);

// The line, formatted printf-style, without trailing newlines.
std::string format_opendht_log(const char* format, va_list args);

}  // namespace mnigs
