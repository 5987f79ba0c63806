
/*
 * velro: authorization decisions, pure C.
 */


#ifndef _VELRO_AUTHZ_H_INCLUDED_
#define _VELRO_AUTHZ_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#endif /* _VELRO_AUTHZ_H_INCLUDED_ */
