/* mflags: the system flags of a stored message, as the store keeps them and
 * IMAP names them (RFC 9051 2.3.2). Keywords are separate (names). */
#ifndef MFLAGS_H
#define MFLAGS_H

#define MF_ANSWERED	0x01	/* \Answered  Maildir R */
#define MF_FLAGGED	0x02	/* \Flagged   Maildir F */
#define MF_DELETED	0x04	/* \Deleted   Maildir T */
#define MF_SEEN		0x08	/* \Seen      Maildir S */
#define MF_DRAFT	0x10	/* \Draft     Maildir D */
#define MF_RECENT	0x20	/* \Recent (IMAP4rev1 only; session state, never stored) */
#define MF_STORED	(MF_ANSWERED | MF_FLAGGED | MF_DELETED | MF_SEEN | MF_DRAFT)

#endif
