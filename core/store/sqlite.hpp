// Thin RAII wrappers over the sqlite3 C API: a prepared statement, one-shot
// execution of SQL text, and a transaction guard. None of them is
// thread-safe; use them only on the Store's worker thread, with the
// connection it hands to your closure.
#pragma once

#include <sqlite3.h>

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace mnigs {

// A database error. what() carries sqlite's message and the statement it came
// from; code() is sqlite's primary result code (SQLITE_BUSY, SQLITE_NOTADB, ...).
class StoreError : public std::runtime_error {
 public:
  explicit StoreError(const std::string& what, int code = SQLITE_ERROR)
      : std::runtime_error(what), code_(code) {}
  int code() const { return code_; }

 private:
  int code_;
};

// The first few words of a statement, whitespace collapsed, for error messages.
std::string sql_excerpt(std::string_view sql);

// Runs every statement in `sql` (several may be separated by ';'), discarding
// rows. Throws StoreError naming the statement that failed.
void exec(sqlite3* db, std::string_view sql);

// One prepared statement. Bind indexes start at 1 (as in sqlite), column
// indexes at 0. Text is bound by copy.
class Statement {
 public:
  // Compiles the first statement in `sql`; throws StoreError on a syntax
  // error or a missing table.
  Statement(sqlite3* db, std::string_view sql);
  ~Statement();
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind_int64(int index, std::int64_t value);
  Statement& bind_text(int index, std::string_view value);
  Statement& bind_null(int index);
  Statement& bind_blob(int index, const void* data, std::size_t size);

  // Advances: true when a row is ready to read, false when the statement is
  // done. Throws StoreError on failure (constraint, busy, I/O).
  bool step();
  // Back to before the first step, with all bindings cleared.
  void reset();

  int column_count() const;
  bool column_is_null(int col) const;
  std::int64_t column_int64(int col) const;
  // NULL reads as "". Embedded NUL bytes are kept.
  std::string column_text(int col) const;
  std::vector<std::uint8_t> column_blob(int col) const;

  sqlite3_stmt* handle() const { return stmt_; }

 private:
  [[noreturn]] void fail(int rc, const char* doing) const;

  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
};

// BEGIN IMMEDIATE on construction; COMMIT on commit(); ROLLBACK when
// destroyed without a successful commit (e.g. while an exception unwinds).
class Transaction {
 public:
  explicit Transaction(sqlite3* db);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  // Throws StoreError if COMMIT fails; the destructor then rolls back.
  void commit();

 private:
  sqlite3* db_;
  bool done_ = false;
};

}  // namespace mnigs
