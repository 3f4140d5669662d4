// libzmq 4.3 (Debian 12).
#pragma once
#include <zmq.h>
