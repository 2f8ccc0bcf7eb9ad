// Encodes spans straight into the protobuf wire bytes of an OTLP
// ExportTraceServiceRequest, without building the message tree first.
//
// Why: the sender thread spent most of its time building ~30 protobuf
// objects and strings per span and then walking them twice more to size and
// serialize them. The bytes produced are exactly those of
// to_otlp_request(spans).SerializeAsString() (fields in number order, proto3
// defaults omitted, the same UTF-8 repair), which the unit tests check.
#pragma once

#include <string>
#include <vector>

#include "span/span.h"

namespace spanwire {

class OtlpTraceEncoder {
 public:
  // The request for `spans`, grouped like to_otlp_request (one ResourceSpans
  // per distinct Span::resource, in first-seen order). The buffer is kept
  // between calls, so a steady stream of batches allocates nothing.
  const std::string& encode(const std::vector<Span>& spans);

 private:
  std::string out_;  // the request, every nested message written in place
};

}  // namespace spanwire
