package store

// KeyPrefix exposes the store's key prefix to the black-box tests that check key lifetimes.
func KeyPrefix(s *Store) string { return s.p }
