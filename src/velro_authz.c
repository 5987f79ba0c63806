#include "velro_authz.h"
