// The tether page's files (page/tether.html, page/tether.js), built into
// the plugin: it serves them with nothing else on disk.
#pragma once

#include <string_view>

namespace mnigs::tether {

extern const std::string_view page_html;
extern const std::string_view page_js;

}  // namespace mnigs::tether
