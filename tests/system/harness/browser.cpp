#include "harness/browser.hpp"

#include "harness/netns.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <boost/beast/core/detail/base64.hpp>
#include <json/reader.h>
#include <json/writer.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

namespace mnigs::test {

namespace {

// A screenshot of a large page comes as one message of base64.
constexpr std::size_t kMaxMessage = 32 << 20;
// Events nobody waits for are dropped beyond this many, the oldest first.
constexpr std::size_t kMaxEvents = 1000;
constexpr std::size_t kMaxPageErrors = 100;

std::string text_of(const Json::Value& v) {
  Json::StreamWriterBuilder w;
  w["indentation"] = "";
  return Json::writeString(w, v);
}

}  // namespace

Browser::Browser(const std::string& ns, const std::string& dir)
    : log_(dir + "/chromium.log"), profile_(dir + "/chromium-profile") {
  std::filesystem::create_directories(profile_);
  int in[2], out[2];
  if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0)
    throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  const int ns_fd = ::open(("/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
  const int log_fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (ns_fd < 0 || log_fd < 0 || null_fd < 0)
    throw std::runtime_error("cannot open the namespace " + ns + " or " + log_);
  std::vector<std::string> argv = {
      "/usr/bin/chromium", "--headless=new", "--no-sandbox", "--disable-gpu",
      "--remote-debugging-pipe", "--user-data-dir=" + profile_, "--no-first-run",
      "--no-default-browser-check", "--disable-background-networking", "--disable-sync",
      "--disable-component-update", "--disable-features=Translate,MediaRouter,OptimizationHints",
      "--metrics-recording-only", "--password-store=basic", "about:blank"};
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  pid_ = ::fork();
  if (pid_ == 0) {
    // Chromium's pipe: it reads commands on fd 3 and writes on fd 4.
    if (::setns(ns_fd, CLONE_NEWNET) != 0) ::_exit(126);
    ::dup2(null_fd, 0);
    ::dup2(log_fd, 1);
    ::dup2(log_fd, 2);
    // Out of the way of 3 and 4 first, so neither overwrites the other.
    const int r = ::fcntl(in[0], F_DUPFD, 10), w = ::fcntl(out[1], F_DUPFD, 10);
    ::dup2(r, 3);
    ::dup2(w, 4);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  for (int fd : {ns_fd, log_fd, null_fd, in[0], out[1]}) ::close(fd);
  to_ = in[1];
  from_ = out[0];
  if (pid_ < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  // A tab, and a session attached to it.
  Json::Value target(Json::objectValue);
  target["url"] = "about:blank";
  const Json::Value created = call("Target.createTarget", target, 30s, false);
  Json::Value attach(Json::objectValue);
  attach["targetId"] = created["targetId"];
  attach["flatten"] = true;
  session_ = call("Target.attachToTarget", attach, 10s, false)["sessionId"].asString();
  if (session_.empty()) throw std::runtime_error("Chromium gave no session; see " + log_);
  call("Page.enable", Json::Value(Json::objectValue), 10s);
  call("Runtime.enable", Json::Value(Json::objectValue), 10s);
  call("Log.enable", Json::Value(Json::objectValue), 10s);
  call("Network.enable", Json::Value(Json::objectValue), 10s);
  // A headless tab has no window focus of its own: without this, Tab moves
  // no focus.
  Json::Value focus(Json::objectValue);
  focus["enabled"] = true;
  call("Emulation.setFocusEmulationEnabled", focus, 10s);
}

Browser::~Browser() {
  if (to_ >= 0) ::close(to_);
  if (from_ >= 0) ::close(from_);
  if (pid_ > 0) terminate_processes({pid_}, 3s);
  std::error_code ignored;
  std::filesystem::remove_all(profile_, ignored);
}

void Browser::send(const Json::Value& message) {
  std::string data = text_of(message);
  data.push_back('\0');
  std::size_t sent = 0;
  while (sent < data.size()) {
    ssize_t n = ::write(to_, data.data() + sent, data.size() - sent);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw std::runtime_error("Chromium's pipe is closed; see " + log_);
    sent += static_cast<std::size_t>(n);
  }
}

bool Browser::receive(Json::Value& message, std::chrono::steady_clock::time_point end) {
  for (;;) {
    if (auto nul = buffer_.find('\0'); nul != std::string::npos) {
      const std::string text = buffer_.substr(0, nul);
      buffer_.erase(0, nul + 1);
      Json::CharReaderBuilder b;
      std::unique_ptr<Json::CharReader> reader(b.newCharReader());
      std::string errors;
      if (!reader->parse(text.data(), text.data() + text.size(), &message, &errors))
        throw std::runtime_error("Chromium sent something that is not JSON: " + errors);
      return true;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        end - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{from_, POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) continue;
    char chunk[65536];
    const ssize_t n = ::read(from_, chunk, sizeof chunk);
    if (n <= 0) throw std::runtime_error("Chromium closed its pipe; see " + log_);
    buffer_.append(chunk, static_cast<std::size_t>(n));
    if (buffer_.size() > kMaxMessage) throw std::runtime_error("Chromium's message is too large");
  }
}

Json::Value Browser::call(const std::string& method, const Json::Value& params,
                          std::chrono::milliseconds timeout, bool in_session) {
  const int id = next_id_++;
  Json::Value m(Json::objectValue);
  m["id"] = id;
  m["method"] = method;
  m["params"] = params;
  if (in_session) m["sessionId"] = session_;
  send(m);
  const auto end = std::chrono::steady_clock::now() + timeout;
  Json::Value reply;
  while (receive(reply, end)) {
    if (reply.isMember("id") && reply["id"].asInt() == id) {
      if (reply.isMember("error"))
        throw std::runtime_error(method + " failed: " + text_of(reply["error"]));
      return reply["result"];
    }
    if (reply.isMember("method")) keep(std::move(reply));
  }
  throw std::runtime_error(method + ": no answer from Chromium in time; see " + log_);
}

void Browser::wait_event(const std::string& method, std::chrono::milliseconds timeout) {
  for (auto it = events_.begin(); it != events_.end(); ++it) {
    if ((*it)["method"].asString() == method) {
      events_.erase(events_.begin(), it + 1);
      return;
    }
  }
  events_.clear();
  const auto end = std::chrono::steady_clock::now() + timeout;
  Json::Value m;
  while (receive(m, end)) {
    if (m["method"].asString() == method) return;
    keep(std::move(m));
    events_.clear();
  }
  throw std::runtime_error("no " + method + " from Chromium in time");
}

void Browser::keep(Json::Value event) {
  const std::string method = event["method"].asString();
  const Json::Value& p = event["params"];
  std::string error;
  if (method == "Runtime.exceptionThrown") {
    const Json::Value& d = p["exceptionDetails"];
    error = "exception: " + d["text"].asString() + " " +
            d["exception"]["description"].asString();
  } else if (method == "Runtime.consoleAPICalled" && p["type"].asString() == "error") {
    error = "console.error:";
    for (const auto& a : p["args"])
      error += " " + (a.isMember("value") ? text_of(a["value"]) : a["description"].asString());
  } else if (method == "Log.entryAdded" && p["entry"]["level"].asString() == "error") {
    error = "browser: " + p["entry"]["text"].asString() + " " + p["entry"]["url"].asString();
  }
  if (!error.empty() && page_errors_.size() < kMaxPageErrors) page_errors_.push_back(error);
  events_.push_back(std::move(event));
  if (events_.size() > kMaxEvents) events_.pop_front();
}

const std::vector<std::string>& Browser::page_errors() {
  // A round trip reads whatever Chromium sent before it.
  eval("0");
  return page_errors_;
}

bool Browser::wait_for(const std::string& expression, std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    Json::Value v;
    try {
      v = eval("!!(" + expression + ")");
    } catch (const std::runtime_error&) {
      // A page in the middle of loading; try again.
    }
    if (v.isBool() && v.asBool()) return true;
    if (std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::sleep_for(100ms);
  }
}

void Browser::click(const std::string& selector) {
  Json::Value sel(selector);
  const Json::Value at = eval("(() => { const e = document.querySelector(" + text_of(sel) +
                              "); if (!e) return null; e.scrollIntoView({block: 'center'}); "
                              "const r = e.getBoundingClientRect(); "
                              "return [r.x + r.width / 2, r.y + r.height / 2]; })()");
  if (!at.isArray() || at.size() != 2)
    throw std::runtime_error("no element " + selector + " to click");
  for (const char* type : {"mousePressed", "mouseReleased"}) {
    Json::Value p(Json::objectValue);
    p["type"] = type;
    p["x"] = at[0];
    p["y"] = at[1];
    p["button"] = "left";
    p["clickCount"] = 1;
    call("Input.dispatchMouseEvent", p, 10s);
  }
}

void Browser::type(const std::string& selector, const std::string& text) {
  Json::Value sel(selector);
  if (!eval("(() => { const e = document.querySelector(" + text_of(sel) +
            "); if (!e) return false; e.focus(); if ('select' in e) e.select(); return true; })()")
           .asBool())
    throw std::runtime_error("no element " + selector + " to type into");
  Json::Value p(Json::objectValue);
  p["text"] = text;
  call("Input.insertText", p, 10s);
}

void Browser::key(const std::string& name) {
  // The few keys the tests press: what Chromium needs to act on each.
  struct Key {
    const char* name;
    const char* code;
    int key_code;
    const char* text;
  };
  static const Key keys[] = {{"Enter", "Enter", 13, "\r"}, {"Tab", "Tab", 9, ""},
                             {"Escape", "Escape", 27, ""}, {" ", "Space", 32, " "}};
  const Key* k = nullptr;
  for (const auto& x : keys)
    if (name == x.name) k = &x;
  if (!k) throw std::runtime_error("Browser::key does not know " + name);
  for (const char* type : {"keyDown", "keyUp"}) {
    Json::Value p(Json::objectValue);
    p["type"] = type;
    p["key"] = k->name;
    p["code"] = k->code;
    p["windowsVirtualKeyCode"] = k->key_code;
    if (std::string(type) == "keyDown" && *k->text) p["text"] = k->text;
    call("Input.dispatchKeyEvent", p, 10s);
  }
}

void Browser::screenshot(const std::string& path, int width, int height, bool dark, bool mobile,
                         const std::string& scroll_to) {
  Json::Value metrics(Json::objectValue);
  metrics["width"] = width;
  metrics["height"] = height;
  metrics["deviceScaleFactor"] = 1;
  metrics["mobile"] = mobile;
  call("Emulation.setDeviceMetricsOverride", metrics, 10s);
  Json::Value media(Json::objectValue);
  Json::Value feature(Json::objectValue);
  feature["name"] = "prefers-color-scheme";
  feature["value"] = dark ? "dark" : "light";
  media["features"].append(feature);
  call("Emulation.setEmulatedMedia", media, 10s);
  if (!scroll_to.empty())
    eval("(() => { const e = document.querySelector(" + text_of(Json::Value(scroll_to)) +
         "); if (e) e.scrollIntoView({block: 'center'}); })()");
  // Layout and paint after the change before the picture.
  eval("new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))");
  Json::Value p(Json::objectValue);
  p["format"] = "png";
  const std::string data = call("Page.captureScreenshot", p, 30s)["data"].asString();
  std::string png(boost::beast::detail::base64::decoded_size(data.size()), '\0');
  const auto [written, read] =
      boost::beast::detail::base64::decode(png.data(), data.data(), data.size());
  if (data.find_first_not_of('=', read) != std::string::npos)
    throw std::runtime_error("Chromium's screenshot is not base64");
  png.resize(written);
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(png.data(), static_cast<std::streamsize>(png.size()));
  if (!out) throw std::runtime_error("cannot write " + path);
}

Json::Value Browser::cookies() {
  return call("Network.getCookies", Json::Value(Json::objectValue), 10s)["cookies"];
}

std::string Browser::open(const std::string& url, std::chrono::milliseconds timeout) {
  events_.clear();
  Json::Value p(Json::objectValue);
  p["url"] = url;
  const Json::Value r = call("Page.navigate", p, timeout);
  if (r.isMember("errorText") && !r["errorText"].asString().empty())
    throw std::runtime_error("navigating to " + url + ": " + r["errorText"].asString());
  wait_event("Page.loadEventFired", timeout);
  return eval("location.href").asString();
}

Json::Value Browser::eval(const std::string& expression, std::chrono::milliseconds timeout) {
  Json::Value p(Json::objectValue);
  p["expression"] = expression;
  p["returnByValue"] = true;
  p["awaitPromise"] = true;
  const Json::Value r = call("Runtime.evaluate", p, timeout);
  if (r.isMember("exceptionDetails"))
    throw std::runtime_error("page script failed: " + text_of(r["exceptionDetails"]));
  return r["result"]["value"];
}

std::string Browser::eval_and_wait_load(const std::string& expression,
                                        std::chrono::milliseconds timeout) {
  events_.clear();
  eval(expression);
  wait_event("Page.loadEventFired", timeout);
  return eval("location.href").asString();
}

}  // namespace mnigs::test
