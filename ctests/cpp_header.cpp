#include "qmgr.h"
int main() { return 1; }
