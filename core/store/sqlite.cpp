#include "store/sqlite.hpp"

#include <cctype>
#include <utility>

namespace mnigs {

namespace {

constexpr std::size_t kExcerptWords = 6;
constexpr std::size_t kExcerptChars = 60;

std::string describe(sqlite3* db, int rc) {
  // sqlite3_errmsg() is only meaningful right after the failing call on the
  // same connection; fall back to the generic text for the code otherwise.
  if (db && sqlite3_errcode(db) == rc) return sqlite3_errmsg(db);
  return sqlite3_errstr(rc);
}

}  // namespace

std::string sql_excerpt(std::string_view sql) {
  std::string out;
  std::size_t words = 0;
  bool in_space = true;
  for (char c : sql) {
    const bool space = std::isspace(static_cast<unsigned char>(c)) != 0;
    if (space) {
      in_space = true;
      continue;
    }
    if (in_space) {
      if (words == kExcerptWords) return out + " ...";
      if (!out.empty()) out += ' ';
      ++words;
      in_space = false;
    }
    if (out.size() >= kExcerptChars) return out + "...";
    out += c;
  }
  return out;
}

void exec(sqlite3* db, std::string_view sql) {
  // Statement by statement rather than sqlite3_exec(), so the error names the
  // statement that failed and not just the start of a long migration.
  const char* next = sql.data();
  const char* end = sql.data() + sql.size();
  while (next < end) {
    sqlite3_stmt* stmt = nullptr;
    const char* tail = nullptr;
    const char* start = next;
    int rc = sqlite3_prepare_v2(db, start, static_cast<int>(end - start), &stmt, &tail);
    if (rc != SQLITE_OK)
      throw StoreError(
          describe(db, rc) + " (in \"" + sql_excerpt(std::string_view(start, end - start)) + "\")",
          rc & 0xff);
    next = tail ? tail : end;
    if (!stmt) continue;  // only whitespace or a comment was left
    do {
      rc = sqlite3_step(stmt);
    } while (rc == SQLITE_ROW);
    if (rc != SQLITE_DONE) {
      std::string message = describe(db, rc) + " (in \"" + sql_excerpt(sqlite3_sql(stmt)) + "\")";
      sqlite3_finalize(stmt);
      throw StoreError(message, rc & 0xff);
    }
    sqlite3_finalize(stmt);
  }
}

Statement::Statement(sqlite3* db, std::string_view sql) : db_(db) {
  int rc = sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &stmt_, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt_);
    stmt_ = nullptr;
    throw StoreError(describe(db, rc) + " (in \"" + sql_excerpt(sql) + "\")", rc & 0xff);
  }
  if (!stmt_) throw StoreError("no SQL statement in \"" + sql_excerpt(sql) + "\"", SQLITE_MISUSE);
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

Statement::Statement(Statement&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)), stmt_(std::exchange(other.stmt_, nullptr)) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    db_ = std::exchange(other.db_, nullptr);
    stmt_ = std::exchange(other.stmt_, nullptr);
  }
  return *this;
}

void Statement::fail(int rc, const char* doing) const {
  throw StoreError(std::string(doing) + ": " + describe(db_, rc) + " (in \"" +
                       sql_excerpt(stmt_ ? sqlite3_sql(stmt_) : "") + "\")",
                   rc & 0xff);
}

Statement& Statement::bind_int64(int index, std::int64_t value) {
  if (int rc = sqlite3_bind_int64(stmt_, index, value); rc != SQLITE_OK) fail(rc, "bind");
  return *this;
}

Statement& Statement::bind_text(int index, std::string_view value) {
  // SQLITE_TRANSIENT: sqlite copies, so the caller's buffer may go away
  // before step().
  int rc =
      sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  if (rc != SQLITE_OK) fail(rc, "bind");
  return *this;
}

Statement& Statement::bind_null(int index) {
  if (int rc = sqlite3_bind_null(stmt_, index); rc != SQLITE_OK) fail(rc, "bind");
  return *this;
}

Statement& Statement::bind_blob(int index, const void* data, std::size_t size) {
  // A null pointer would bind NULL, not an empty blob; "" keeps it a blob.
  int rc = sqlite3_bind_blob64(stmt_, index, data ? data : "", size, SQLITE_TRANSIENT);
  if (rc != SQLITE_OK) fail(rc, "bind");
  return *this;
}

bool Statement::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  fail(rc, "step");
}

void Statement::reset() {
  // reset() repeats the last step's error code; it was already reported by
  // step(), so it is ignored here.
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

int Statement::column_count() const { return sqlite3_column_count(stmt_); }

bool Statement::column_is_null(int col) const {
  return sqlite3_column_type(stmt_, col) == SQLITE_NULL;
}

std::int64_t Statement::column_int64(int col) const { return sqlite3_column_int64(stmt_, col); }

std::string Statement::column_text(int col) const {
  // Call order matters: text first, then bytes (sqlite's documented idiom).
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
  const int size = sqlite3_column_bytes(stmt_, col);
  return text ? std::string(text, static_cast<std::size_t>(size)) : std::string();
}

std::vector<std::uint8_t> Statement::column_blob(int col) const {
  const auto* data = static_cast<const std::uint8_t*>(sqlite3_column_blob(stmt_, col));
  const int size = sqlite3_column_bytes(stmt_, col);
  return data ? std::vector<std::uint8_t>(data, data + size) : std::vector<std::uint8_t>();
}

Transaction::Transaction(sqlite3* db) : db_(db) {
  // IMMEDIATE takes the write lock now, so a busy database fails here
  // (after busy_timeout) rather than half-way through the work.
  exec(db_, "BEGIN IMMEDIATE");
}

Transaction::~Transaction() {
  // Some errors (SQLITE_FULL, SQLITE_IOERR, ...) already rolled back; a
  // second ROLLBACK would only fail.
  if (!done_ && !sqlite3_get_autocommit(db_))
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
}

void Transaction::commit() {
  exec(db_, "COMMIT");
  done_ = true;
}

}  // namespace mnigs
