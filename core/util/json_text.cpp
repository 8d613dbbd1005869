#include "util/json_text.hpp"

#include <json/reader.h>
#include <json/writer.h>

#include <memory>

namespace mnigs {

std::string to_json_text(const Json::Value& value) {
  Json::StreamWriterBuilder w;
  w["indentation"] = "";
  return Json::writeString(w, value);
}

Json::Value from_json_text(const std::string& text) {
  Json::CharReaderBuilder b;
  std::unique_ptr<Json::CharReader> reader(b.newCharReader());
  Json::Value v;
  std::string errs;
  try {
    if (!reader->parse(text.data(), text.data() + text.size(), &v, &errs)) return Json::Value();
  } catch (const Json::Exception&) {
    return Json::Value();
  }
  return v;
}

}  // namespace mnigs
