package httpconn

// Sign is the signature a request carries, for tests.
var Sign = sign
