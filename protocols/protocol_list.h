/* The protocols spanwire parses, one line each: X(NAME, wire value, folder).
 * It gives enum sw_protocol its SW_PROTO_<NAME> values (spanwire.h), and the
 * kernel's inference chain, in this order, calls sw_infer_<folder>() from
 * protocols/<folder>/infer.h (gathered into the generated inference.h, see
 * cmake/ProtocolInference.cmake). Every protocol listed has its payload
 * copied to userspace. */
#ifndef SPANWIRE_PROTOCOLS_PROTOCOL_LIST_H
#define SPANWIRE_PROTOCOLS_PROTOCOL_LIST_H

#define SW_PROTOCOL_LIST(X) \
	X(HTTP1, 1, http1)  \
	X(HTTP2, 2, http2)  \
	X(REDIS, 3, redis)  \
	X(POSTGRES, 4, postgres) \
	X(MYSQL, 5, mysql)

#endif /* SPANWIRE_PROTOCOLS_PROTOCOL_LIST_H */
