"""Privacy by design: the audit trail's views, retention and anonymisation, the data subject's rights (access
export, erasure). Reads across every domain; writes only what anonymisation erases."""
