// A real headless Chromium inside a test namespace, driven over the
// DevTools protocol on its --remote-debugging-pipe: commands go to its fd 3
// and answers and events come from its fd 4, JSON messages ending in a NUL
// byte. One tab, attached with a flat session.
//
//   Browser b(topology.ns("sub"), dir);
//   b.open("http://10.77.1.1/");            // follows redirects, waits for load
//   b.eval("document.title");               // -> Json::Value
//   b.eval_and_wait_load("document.forms[0].submit()");
//   b.type("#secret", "password"); b.key("Enter"); b.wait_for("!!document.querySelector('nav')");
#pragma once

#include <json/value.h>

#include <sys/types.h>

#include <chrono>
#include <deque>
#include <string>
#include <vector>

namespace mnigs::test {

using namespace std::chrono_literals;

class Browser {
 public:
  // Starts Chromium in namespace `ns` with a fresh profile under `dir` and
  // its log in dir/chromium.log; throws std::runtime_error when it does not
  // answer.
  Browser(const std::string& ns, const std::string& dir);
  // Ends Chromium (the process it started, by PID) and waits for it.
  ~Browser();
  Browser(const Browser&) = delete;
  Browser& operator=(const Browser&) = delete;

  // Navigates the tab to `url` and waits for the load event of the page it
  // ends up on; returns that page's URL.
  std::string open(const std::string& url, std::chrono::milliseconds timeout = 20s);
  // The value of `expression` evaluated in the page (awaited if a promise).
  Json::Value eval(const std::string& expression, std::chrono::milliseconds timeout = 10s);
  // Evaluates `expression` (a form submit, a click) and waits for the next
  // load event; returns the URL then.
  std::string eval_and_wait_load(const std::string& expression,
                                 std::chrono::milliseconds timeout = 20s);
  // Polls `expression` until it is truthy; false when it never is in time.
  bool wait_for(const std::string& expression, std::chrono::milliseconds timeout = 10s);
  // Clicks the element `selector` names as a mouse does, at its centre once
  // scrolled into view. Throws when there is none.
  void click(const std::string& selector);
  // Focuses the element and types `text` into it, as a keyboard does.
  void type(const std::string& selector, const std::string& text);
  // Presses and releases a key: "Enter", "Tab".
  void key(const std::string& name);
  // Writes a PNG of the page as a `width`x`height` screen shows it (a
  // phone's with `mobile`), in the dark colour scheme with `dark`, scrolled
  // to the element `scroll_to` names when not empty.
  void screenshot(const std::string& path, int width, int height, bool dark = false,
                  bool mobile = false, const std::string& scroll_to = "");
  // The cookies the browser holds for the page's URL (Network.getCookies).
  Json::Value cookies();
  // What went wrong in the page so far: uncaught exceptions, console errors
  // and the browser's own complaints (a CSP violation, a failed load).
  const std::vector<std::string>& page_errors();
  const std::string& log_path() const { return log_; }

 private:
  void send(const Json::Value& message);
  // Reads one message; false at `end`.
  bool receive(Json::Value& message, std::chrono::steady_clock::time_point end);
  Json::Value call(const std::string& method, const Json::Value& params,
                   std::chrono::milliseconds timeout, bool in_session = true);
  void wait_event(const std::string& method, std::chrono::milliseconds timeout);
  // Keeps an event for wait_event, or notes a page error it reports.
  void keep(Json::Value event);

  pid_t pid_ = -1;
  int to_ = -1, from_ = -1;
  std::string log_, profile_;
  std::string buffer_;
  std::string session_;
  int next_id_ = 1;
  std::deque<Json::Value> events_;
  std::vector<std::string> page_errors_;
};

}  // namespace mnigs::test
