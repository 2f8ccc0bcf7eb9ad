/* Every protocol's inference function (protocols/<folder>/infer.h), for the
 * chain protocol_list.h orders. Pure C. */
#ifndef SPANWIRE_PROTOCOLS_INFERENCE_H
#define SPANWIRE_PROTOCOLS_INFERENCE_H

#include "protocol_list.h"
#include "http1/infer.h"
#include "http2/infer.h"

#endif /* SPANWIRE_PROTOCOLS_INFERENCE_H */
