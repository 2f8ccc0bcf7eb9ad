#include "redis/semconv.h"

#include "db/semconv.h"

namespace spanwire::redis {
namespace {

// Command names are words of letters, digits and a few separators (module
// commands: "JSON.GET"); anything else is not echoed.
bool plausible_name(std::string_view name) {
  if (name.empty() || name.size() > 32) return false;
  for (char c : name)
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' || c == '|')) return false;
  return true;
}

}  // namespace

std::string error_code(std::string_view text) {
  const std::string_view word = text.substr(0, text.find(' '));
  if (word.empty() || word.size() > 32) return "ERR";
  for (char c : word)
    if (!((c >= 'A' && c <= 'Z') || c == '_')) return "ERR";
  return std::string(word);
}

ExchangeRecord to_record(const ConnectionFacts& /*conn*/, const Value& command, const std::string& operation,
                         const std::optional<std::string>& ns, const std::optional<Value>& reply,
                         std::optional<int64_t> batch, uint64_t end_ts) {
  db::Call call;
  call.system = "redis";
  call.operation = plausible_name(operation) ? operation : "_OTHER";
  call.ns = ns;
  call.query_text = call.operation;
  // CLIENT REPLY ON: the subcommand is part of the operation, not a value.
  const int64_t args = std::max<int64_t>(0, command.elements - 1);
  for (int64_t i = 0; i < std::min<int64_t>(args, 16); ++i) call.query_text += " ?";
  if (args > 16) call.query_text += " ...";
  call.query_summary = call.operation;
  call.batch_size = batch;
  call.answered = reply.has_value();
  if (reply && (reply->type == '-' || reply->type == '!')) {
    call.failed = true;
    call.status_code = error_code(reply->error);
  }
  call.start_ts = command.first_ts;
  call.end_ts = std::max(end_ts, command.last_ts);
  call.request_offset = command.offset;
  return db::to_record(call);
}

}  // namespace spanwire::redis
