package ftpgateway

// The FTP gateway's reply lines and the command access table.
//
// Every reply is the device manual's (seeds/bintec-dm724-ftp-sftp-manual.txt)
// with its exact code, spelling, capitalisation and final punctuation, typos
// included: "RNT0", "RNTD", "Unable get file length", "not supports". A
// parenthesised note the manual prints after a reply ("(Initial)", "(In cases
// where this is not integrated)", "(authentication phase)", "(Response from
// SYSTID ...)") is not part of the text. Where the manual's PDF-to-text
// conversion lost characters, the comment says what was reconstructed.
// Replies marked "sluice" are not in the manual; they follow its style and
// are listed in docs/ftp.md.
//
// A reply constant is one line without CRLF. A constant containing fmt
// verbs is a format: fmt.Sprintf(string(replyX), args...); its comment says
// what goes where. The manual prints C verbs (%ld, %lu, %u); they are %d
// here. Multi-line replies (RFC 959 §4.2) are given line by line: a first
// line "NNN-...", body lines, and a last line "NNN ...". Body lines of
// sluice's own multi-line replies start with a space, so that no reply line
// ever starts with text a client sent.

// reply is one reply line, or a fmt format for one.
type reply string

// accessLevel is the manual's access level of a command (§1.4.1–1.4.3).
type accessLevel int

// The levels. accessAll: any connection, even before login (§1.4.1).
// accessRegistered: any logged-in user (§1.4.2). accessSupervisor: the
// supervisor ("ROOT") level (§1.4.3). How a level maps onto sluice's
// supervisor/guest/viewer users and the shared policy is in docs/ftp.md.
// (Named access*, not level*: commands.go already declares type level with
// levelAll, levelUser, levelSupervisor; accessRegistered is its levelUser.)
const (
	accessAll accessLevel = iota
	accessRegistered
	accessSupervisor
)

// Words that fill the %s of several replies.
const (
	wordOn    = "ON"
	wordOff   = "OFF"
	wordReady = "READY" // STAT "Server Status"
	wordBusy  = "BUSY"
	wordAll   = "ALL" // STAT "Checks" (image.Check.Letters gives ALL / NONE / letters)
	wordNone  = "NONE"
	wordUnix  = "UNIX" // SITE SYSTMODE, SYST
	wordMSDOS = "MSDOS"
	// The image kinds in the check verdicts ("%s not supported by present
	// BIOS"); wordFile for an image of no known kind.
	wordApplication = "Application"
	wordBIOS        = "BIOS"
	wordFirmware    = "Firmware"
	wordBoot        = "Boot"
	wordFile        = "File"
)

// Replies shared by many commands (§1.4.1–1.4.3). Each command's group
// below says which of these it uses.
const (
	replyBusy          reply = "450 Error, system busy."           // nearly every command: file system or session busy
	replyNotLoggedIn   reply = "530 Access denied, not logged in." // §1.4.2 and §1.4.3 commands before login
	replyNoDTP         reply = "411 Unable to get DTP."            // LIST, NLST, RETR, DELE, RNFR, MDTM, XCRC, XMD5, EPRT
	replyNoDTPNoDot    reply = "411 Unable to get DTP"             // PORT, STOR, APPE, SIZE, PASS ("(authentication phase)" is a note)
	replyNoDataConn    reply = "425 Unable to open data transport."
	replyDataClosed    reply = "426 Unexpected data link close."
	replyFSNotAvail    reply = "450 File system not available."
	replyFSOpenError   reply = "450 Error opening File System."
	replyInvalidName   reply = "501 Invalid filename."
	replyInvalidPath   reply = "501 Invalid pathname."
	replyPathTooLong   reply = "501 Pathname too long." // LIST, NLST
	replyOpenFailed    reply = "550 Unable to open file."
	replyReadError     reply = "550 Error reading file."
	replyWriteError    reply = "550 Error writing file."
	replyCloseFile     reply = "550 Error closing file."
	replyCloseDevice   reply = "550 Error closing device."
	replyNoLength      reply = "550 Unable get file length." // sic: RETR, APPE, XCRC, XMD5
	replyNotFound      reply = "550 File not found."         // RNFR, MDTM, SIZE
	replySearchEnd     reply = "550 Error ending search."    // LIST, NLST, RNFR, MDTM, SIZE
	replySeekFailed    reply = "554 Unable to seek in file." // RETR, STOR, APPE, XCRC, XMD5 (REST offset)
	replyNotImplParam  reply = "504 Command not implemented for that parameter."
	replyFeatureAbsent reply = "504 Feature not present." // XCRC "(not integrated)", SITE SAVESLAVES
)

// Connection (§1.4.1 "Open FTP Connection"; RFC 959 §5.4).
const (
	// replyBannerLine is one line of the configured banner, sent before
	// replyBanner: %s = the line.
	replyBannerLine reply = "220-%s"
	// replyBanner: %d active clients (this one included), %d clients allowed.
	replyBanner reply = "220 FTP server ready, %d active clients of %d simultaneous clients allowed."
	// replyServiceNA is the manual's only 421 text (PASS). sluice also sends
	// it, then closes, when the server is full, after too many failed
	// logins, and at shutdown.
	replyServiceNA reply = "421 Service not available."
	// replyServiceNAWhy precedes replyServiceNA with the reason (a limit, a
	// ban, the login deadline, shutdown): %s = the reason.
	replyServiceNAWhy reply = "421-%s"
)

// Reasons given in replyServiceNAWhy.
const (
	whyLoginTime = "Login time exceeded."
	whyFailures  = "Too many failed logins."
	whyShutdown  = "The server is shutting down."
)

// Any command, and commands the server does not know (§1.4.3 "Possible new
// commands").
const (
	replyInactivity     reply = "221 Inactivity Timer Expired. Goodbye."
	replyDTPCannot      reply = "500 DTP cannot process this command." // not used by sluice
	replyLineTooLong    reply = "500 Syntax error, command line too long."
	replyDelimiter      reply = "500 Syntax error, command delimiter error."
	replyUnrecognized   reply = "500 Syntax error, command unrecognized."
	replyNotImplemented reply = "502 Command not implemented."               // also MKD/XMKD, RMD/XRMD, STOU
	replyUnexpectedData reply = "503 Unexpected data connection indication." // not used by sluice
)

// ACCT (§1.4.1, §3.3). Also replyBusy.
const (
	replyTestEnabled reply = "200 FTP server test account enabled."
	replyAcctNotUsed reply = "202 Command superfluous at this site."
)

// QUIT, REIN, NOOP (§1.4.1). Also replyBusy.
const (
	replyGoodbye reply = "221 Goodbye."
	replyReinOK  reply = "220 OK."
	replyNoopOK  reply = "200 OK."
)

// SYST (§1.4.1; RFC 1700 names). Follows SITE SYSTMODE / the OS setting.
const (
	replySystMSDOS reply = "215 MSDOS system type."
	replySystUnix  reply = "215 UNIX system type."
)

// HELP (§1.4.1). The manual shows "214 HELP: See ..." and one per-command
// line, "214 LIST: Syntax: LIST[ <path-name>]<CRLF>...": "<CRLF>" is
// printed literally (RFC 959 §5.3.1 notation) and "..." means the other
// commands follow the same pattern.
const (
	replyHelpNotAvail      reply = "502 Help not available."         // "(not integrated)": not used
	replyHelpCmdNotAvail   reply = "504 Command help not available." // "(not integrated)": not used
	replyHelpUnknown       reply = "214 HELP: Command not recognized"
	replyHelpNotImpl       reply = "214 HELP: Command recognized but not implemented"
	replyHelpListExample   reply = "214 LIST: Syntax: LIST[ <path-name>]<CRLF>"        // the manual's example
	replyHelpSyntax        reply = "214 %s: Syntax: %s"                                // %s = command ("LIST"), %s = its helpSyntax* constant
	replyHelpGeneralFirst  reply = "214-HELP: Commands recognized:"                    // sluice: general HELP, first line
	replyHelpGeneralLine   reply = " %s"                                               // sluice: %s = up to 14 command names separated by one space, sorted
	replyHelpGeneralLast   reply = "214 HELP: See HELP <command> for its syntax."      // sluice: reconstructs the manual's "214 HELP: See ..."
	replySiteHelpFirst     reply = "214-SITE commands recognized:"                     // sluice (mTCP SITE HELP), first line
	replySiteHelpLast      reply = "214 HELP: See SITE HELP <command> for its syntax." // sluice
	replySiteHelpCmdSyntax reply = "214 SITE %s: Syntax: %s"                           // sluice: SITE HELP <sub>; %s = subcommand, %s = its helpSyntaxSite* constant
)

// Syntax strings for HELP <command> and SITE HELP <command>, in the
// notation of the manual's LIST example (optional parts in [ ], a space
// before an argument inside the brackets, alternatives with |). Only LIST's
// is the manual's; the rest are sluice's, from RFC 959 §5.3.1, RFC 2428,
// RFC 4217 and the manual's chapter 3.
const (
	helpSyntaxABOR = "ABOR<CRLF>"
	helpSyntaxACCT = "ACCT TEST0|TEST1<CRLF>"
	helpSyntaxALLO = "ALLO <decimal-integer>[ R <decimal-integer>]<CRLF>"
	helpSyntaxAPPE = "APPE <path-name><CRLF>"
	helpSyntaxAUTH = "AUTH TLS<CRLF>"
	helpSyntaxCDUP = "CDUP<CRLF>"
	helpSyntaxCWD  = "CWD <path-name><CRLF>"
	helpSyntaxDELE = "DELE <path-name><CRLF>"
	helpSyntaxEPRT = "EPRT <d><net-prt><d><net-addr><d><tcp-port><d><CRLF>"
	helpSyntaxEPSV = "EPSV[ 1|2|ALL]<CRLF>"
	helpSyntaxFEAT = "FEAT<CRLF>"
	helpSyntaxHELP = "HELP[ <command>]<CRLF>"
	helpSyntaxLIST = "LIST[ <path-name>]<CRLF>" // the manual's
	helpSyntaxMDTM = "MDTM <path-name><CRLF>"
	helpSyntaxMFMT = "MFMT <YYYYMMDDHHMMSS> <path-name><CRLF>"
	helpSyntaxMLSD = "MLSD[ <path-name>]<CRLF>"
	helpSyntaxMLST = "MLST[ <path-name>]<CRLF>"
	helpSyntaxMODE = "MODE S<CRLF>"
	helpSyntaxNLST = "NLST[ <path-name>]<CRLF>"
	helpSyntaxNOOP = "NOOP<CRLF>"
	helpSyntaxOPTS = "OPTS <command>[ <options>]<CRLF>"
	helpSyntaxPASS = "PASS <password><CRLF>"
	helpSyntaxPASV = "PASV<CRLF>"
	helpSyntaxPBSZ = "PBSZ 0<CRLF>"
	helpSyntaxPORT = "PORT <h1>,<h2>,<h3>,<h4>,<p1>,<p2><CRLF>"
	helpSyntaxPROT = "PROT C|P<CRLF>"
	helpSyntaxPWD  = "PWD<CRLF>"
	helpSyntaxQUIT = "QUIT<CRLF>"
	helpSyntaxREIN = "REIN<CRLF>"
	helpSyntaxREST = "REST <marker><CRLF>"
	helpSyntaxRETR = "RETR <path-name><CRLF>"
	helpSyntaxRNFR = "RNFR <path-name><CRLF>"
	helpSyntaxRNTO = "RNTO <path-name><CRLF>"
	helpSyntaxSITE = "SITE <command>[ <arguments>]<CRLF>"
	helpSyntaxSIZE = "SIZE <path-name><CRLF>"
	helpSyntaxSMNT = "SMNT <file-system><CRLF>"
	helpSyntaxSTAT = "STAT<CRLF>"
	helpSyntaxSTOR = "STOR <path-name><CRLF>"
	helpSyntaxSTRU = "STRU F<CRLF>"
	helpSyntaxSYST = "SYST<CRLF>"
	helpSyntaxTYPE = "TYPE A[ N|T]|I|L 8<CRLF>"
	helpSyntaxUSER = "USER <username><CRLF>"
	helpSyntaxXCRC = "XCRC[ \"<path-name>\"][ <offset>[ <size>]]<CRLF>"
	helpSyntaxXCUP = "XCUP<CRLF>"
	helpSyntaxXCWD = "XCWD <path-name><CRLF>"
	helpSyntaxXMD5 = "XMD5[ \"<path-name>\"][ <offset>[ <size>]]<CRLF>"
	helpSyntaxXPWD = "XPWD<CRLF>"

	helpSyntaxSiteBACKUP        = "SITE BACKUP<CRLF>"
	helpSyntaxSiteCHECK         = "SITE CHECK ALL|BIOS|CRC|DELETE|FIRMWARE|HARDWARE|HW SUPPORTED|LENGTH|PATH|PROFILE|RENAME|SYSTEM|UNKNOWN|VERSION OFF|ON<CRLF>"
	helpSyntaxSiteCLEARBUFFER   = "SITE CLEARBUFFER<CRLF>"
	helpSyntaxSiteCOHERENCE     = "SITE COHERENCE<CRLF>"
	helpSyntaxSiteCOMPATIBLE    = "SITE COMPATIBLE OFF|ON<CRLF>"
	helpSyntaxSiteDIRECT        = "SITE DIRECT OFF|ON<CRLF>"
	helpSyntaxSiteDISKFREE      = "SITE DISKFREE[ <file-system>]<CRLF>"
	helpSyntaxSiteGETAPPNAME    = "SITE GETAPPNAME<CRLF>"
	helpSyntaxSiteGETBIOSVER    = "SITE GETBIOSVER<CRLF>"
	helpSyntaxSiteGETCFGNAME    = "SITE GETCFGNAME<CRLF>"
	helpSyntaxSiteGETFILEVER    = "SITE GETFILEVER <path-name><CRLF>"
	helpSyntaxSiteGETHDWLVL     = "SITE GETHDWLVL<CRLF>"
	helpSyntaxSiteHELP          = "SITE HELP[ <command>]<CRLF>"
	helpSyntaxSiteIMMEDIATE     = "SITE IMMEDIATE OFF|ON<CRLF>"
	helpSyntaxSiteKEEPALIVE     = "SITE KEEPALIVE OFF|ON<CRLF>"
	helpSyntaxSiteLISTFIRMWARES = "SITE LISTFIRMWARES<CRLF>"
	helpSyntaxSiteRELOAD        = "SITE RELOAD OFF|ON<CRLF>"
	helpSyntaxSiteREPLY         = "SITE REPLY OFF|ON<CRLF>"
	helpSyntaxSiteSAVEBUFFER    = "SITE SAVEBUFFER[ <file-system>]<CRLF>"
	helpSyntaxSiteSAVESLAVES    = "SITE SAVESLAVES<CRLF>"
	helpSyntaxSiteSTATBUFFER    = "SITE STATBUFFER<CRLF>"
	helpSyntaxSiteSTATS         = "SITE STATS<CRLF>"
	helpSyntaxSiteSTOREDEVICE   = "SITE STOREDEVICE<CRLF>"
	helpSyntaxSiteSYSTID        = "SITE SYSTID<CRLF>"
	helpSyntaxSiteSYSTMODE      = "SITE SYSTMODE MSDOS|UNIX<CRLF>"
	helpSyntaxSiteWHO           = "SITE WHO<CRLF>"
)

// USER (§1.4.1; RFC 2577 §5: always 331, whether or not the user exists).
// Also replyBusy.
const (
	replyUserOK      reply = "331 User name accepted, password needed."
	replyUserTooLong reply = "530 User name too long."
)

// PASS (§1.4.1). Also replyNoDTPNoDot, replyServiceNA, replyBusy.
const (
	replyLoginRefused   reply = "530 User login refused."
	replyPassTooLong    reply = "530 Password too long."
	replyUserRequired   reply = "531 User name required."
	replyLoginOK        reply = "230 User login successful."       // a password was checked
	replyLoginComplete  reply = "230 User login complete."         // no password to check (configured anonymous login)
	replyMOTDLine       reply = "230-%s"                           // mTCP MOTD: one line of the file, before the 230 line
	replyLoginTLSNeeded reply = "530 Access denied, TLS required." // sluice: require_tls and AUTH TLS not done
)

// STAT (§1.4.1, §3.8). The manual prints each field as "211 ..."; sent as
// eight single-line replies they would desynchronise every client, so they
// are one multi-line reply (RFC 959 §4.2): "211-" on all lines but the
// last. Spacing around the colons is the manual's. Order: Server, [Transfer],
// Direct, Immediate, Keepalive, Reply, Reload, Savebuffer, Checks.
const (
	replyStatServer     reply = "211-Server Status: %s"                    // %s = wordReady, or wordBusy during a transfer
	replyStatPreLogin   reply = "211 Server Status: %s"                    // before the login: nothing else is revealed
	replyStatTransfer   reply = "211-Transfer : %s %s, %d bytes processed" // sluice, only during a transfer: command, path, bytes so far
	replyStatDirect     reply = "211-Direct mode : %s"                     // wordOn / wordOff
	replyStatImmediate  reply = "211-Immediate : %s"                       // wordOn / wordOff
	replyStatKeepalive  reply = "211-Keepalive : %s"                       // wordOn / wordOff
	replyStatReply      reply = "211-Reply 119 : %s"                       // wordOn / wordOff
	replyStatReload     reply = "211-Reload code : %s"                     // wordOn / wordOff (SITE RELOAD)
	replyStatSavebuffer reply = "211-Savebuffer : %s"                      // wordOn when the session has a staged file not yet saved
	replyStatChecks     reply = "211 Checks : %s"                          // image.Check.Letters(): ALL, NONE, or PCLBFVRDSUH + WEG positions
)

// FEAT (§1.4.1; RFC 2389). The manual prints the feature lines without the
// leading space RFC 2389 §3.2 requires (lost in conversion; jlaffaye/ftp and
// other clients ignore feature lines without it). Order: first line, the
// TLS lines only when FTPS is enabled (sluice; RFC 4217 §6), then the
// manual's five, then sluice's lines for modern clients (RFC 3659 MLST,
// RFC 2640 UTF8, draft-somers-ftp-mfxx MFMT; DESIGN §6), then the end line.
const (
	replyFeatFirst      reply = "211-Extensions supported:"
	replyFeatAuthTLS    reply = " AUTH TLS" // sluice
	replyFeatPBSZ       reply = " PBSZ"     // sluice
	replyFeatPROT       reply = " PROT"     // sluice
	replyFeatMDTM       reply = " MDTM"
	replyFeatRestStream reply = " REST STREAM"
	replyFeatSIZE       reply = " SIZE"
	replyFeatXCRC       reply = " XCRC"
	replyFeatXMD5       reply = " XMD5"
	replyFeatMLST       reply = " MLST %s" // sluice: %s = the facts, each with ";" and a "*" when selected (OPTS MLST): "type*;size*;modify*;perm*;"
	replyFeatUTF8       reply = " UTF8"    // sluice
	replyFeatMFMT       reply = " MFMT"    // sluice
	replyFeatLast       reply = "211 End"
)

// PORT (§1.4.2; RFC 959, RFC 2577). Also replyBusy, replyNoDTPNoDot,
// replyNotImplParam (a port below 1024), replyNotLoggedIn.
const (
	replyPortAddr       reply = "501 IP Address error."
	replyPortAddrDelim  reply = "501 IP Address delimiter error."
	replyPortPort       reply = "501 TCP port error."
	replyPortPortDelim  reply = "501 TCP port delimiter error."
	replyAddrNotAllowed reply = "504 IP Address not allowed." // PORT, EPRT: not the control connection's peer
	replyOnlyEPSV       reply = "530 Only EPSV commands admitted."
	// replyPortOK: %d.%d.%d.%d = the address, %d = the port. §5.1.4's
	// transcript shows "PORT 50021" without "="; the response table's
	// format, with "=", is used.
	replyPortOK reply = "200 PORT is set to IP ADDR = %d.%d.%d.%d PORT = %d"
)

// PASV (§1.4.2). Also replyBusy, replyOnlyEPSV, replyNotLoggedIn.
const (
	replyNoPassive reply = "411 Unable to get passive mode"
	// replyPasvOK: h1..h4 = the advertised address, p1, p2 = port/256,
	// port%256. The period after "Mode" is the manual's; clients parse the
	// parenthesised part.
	replyPasvOK reply = "227 Entering Passive Mode. (%d,%d,%d,%d,%d,%d)"
)

// EPRT (§1.4.2; RFC 2428 §2). Also replyNoDTP, replyBusy, replyNotImplParam,
// replyAddrNotAllowed, replyOnlyEPSV, replyNotLoggedIn.
//
// Reconstructed: the conversion turned each "|" into a space. The manual's
// text reads "200 Extended PORT is set to  1 %u.%u.%u.%u " (two spaces
// before 1, one after the address): exactly "|1|%u.%u.%u.%u|" with the
// pipes blanked. The manual shows no port; none is added.
const (
	replyEprtDelim1    reply = "501 Bad First EPRT delimiter."
	replyEprtDelim2    reply = "501 Bad Second EPRT delimiter."
	replyEprtDelim3    reply = "501 Bad Third EPRT delimiter."
	replyEprtDelim4    reply = "501 Bad Fourth EPRT delimiter."
	replyEprtAddr      reply = "501 IP address error."           // lower-case "address", unlike PORT
	replyEprtAddrDelim reply = "501 IP address delimiter error." // lower-case "address"
	replyEprtPort      reply = "501 TCP port value error."
	replyEprtProto     reply = "522 Protocol not supported, use (1,2)."                  // with a period, unlike EPSV's
	replyEprtOK4       reply = "200 Extended PORT is set to |1|%d.%d.%d.%d|"             // the four bytes
	replyEprtOK6       reply = "200 Extended PORT is set to |2|%X:%X:%X:%X:%X:%X:%X:%X|" // the eight 16-bit groups, upper-case hex, uncompressed
)

// EPSV (§1.4.2; RFC 2428 §3). Also replyBusy, replyNotLoggedIn.
//
// Reconstructed: the manual's "229 Entering Extended Passive Mode (   %u )"
// is RFC 2428's "(|||%u|)" with the pipes blanked (three spaces, one space);
// clients (Python ftplib, jlaffaye/ftp, curl) need the pipes.
const (
	replyNoExtPassive reply = "411 Unable to get extended passive mode"
	replyEpsvProto    reply = "522 Protocol not supported, use (1,2)" // no period, unlike EPRT's
	replyEpsvAll      reply = "200 Extended Passive ALL processed."
	replyEpsvOK       reply = "229 Entering Extended Passive Mode (|||%d|)" // %d = the port
)

// TYPE (§1.3, §1.4.2). Also replyBusy, replyNotLoggedIn. §1.4.2 calls
// TYPE A T "not supported" and §1.3 "supported as TYPE A N"; the response
// list has "ASCII TELNET", so A T answers that and behaves as A N.
const (
	replyTypeArg        reply = "501 TYPE argument error."
	replyTypeFormat     reply = "501 TYPE format not recognized."
	replyTypeASCIIFmt   reply = "501 TYPE ASCII format error."
	replyTypeCarriage   reply = "504 TYPE ASCII CARRIAGE not supported."
	replyTypeLocalSize  reply = "504 TYPE LOCAL size not supported."
	replyTypeEBCDIC     reply = "504 TYPE EBCDIC not supported."
	replyTypeASCII      reply = "200 TYPE is set to ASCII NON PRINT."
	replyTypeASCIITelnt reply = "200 TYPE is set to ASCII TELNET."
	replyTypeImage      reply = "200 TYPE is set to IMAGE."
	replyTypeLocal8     reply = "200 TYPE is set to LOCAL 8."
)

// MODE (§1.4.2). Also replyBusy, replyNotLoggedIn.
const (
	replyModeArg        reply = "501 MODE argument error."
	replyModeFormat     reply = "501 MODE format not recognized."
	replyModeBlock      reply = "504 MODE BLOCK not supported."
	replyModeCompressed reply = "504 MODE COMPRESSED not supported."
	replyModeStream     reply = "200 MODE is set to STREAM."
	replyModeBlockOK    reply = "200 MODE is set to BLOCK."      // not used: MODE B answers 504
	replyModeCompressOK reply = "200 MODE is set to COMPRESSED." // not used: MODE C answers 504
)

// STRU (§1.4.2). Also replyBusy, replyNotLoggedIn.
const (
	replyStruArg      reply = "501 STRU argument error."
	replyStruFormat   reply = "501 STRU format not recognized."
	replyStruPage     reply = "504 STRU PAGE not supported."
	replyStruRecord   reply = "504 STRU RECORD not supported."
	replyStruFile     reply = "200 STRU is set to FILE."
	replyStruRecordOK reply = "200 STRU is set to RECORD." // not used: STRU R answers 504
)

// ABOR (§1.4.2). During a transfer: the 426 line of the aborted command
// (it is that command's final reply), then replyAborOK. Idle: replyAborOK
// only. "RNT0" (zero) is the manual's spelling. Also replyNotLoggedIn.
const (
	replyAbortRNFR reply = "426 Aborting RNFR command..." // not used: RNFR is not interruptible
	replyAbortRNTO reply = "426 Aborting RNT0 command..." // sic; not used: RNTO is not interruptible
	replyAbortDELE reply = "426 Aborting DELE command..." // not used
	replyAbortLIST reply = "426 Aborting LIST command..."
	replyAbortNLST reply = "426 Aborting NLST command..."
	replyAbortRETR reply = "426 Aborting RETR command..."
	replyAbortSTOR reply = "426 Aborting STOR command..."
	replyAbortAPPE reply = "426 Aborting APPE command..."
	replyAbortMDTM reply = "426 Aborting MDTM command..." // not used
	replyAbortSIZE reply = "426 Aborting SIZE command..." // not used
	replyAbortSITE reply = "426 Aborting SITE command..." // not used: SITE commands run to completion
	replyAborOK    reply = "226 Command ABOR successfully processed."
)

// LIST and NLST (§1.4.2; the manual's heading says "NLIST"). Also
// replyNoDTP, replyNoDataConn, replyDataClosed, replyBusy, replyFSNotAvail,
// replyFSOpenError, replyPathTooLong, replyInvalidPath, replyNotLoggedIn,
// replySearchEnd, replyCloseDevice. 225 is for a data connection left open
// (MODE B/C); in MODE S it is always closed, so 226.
const (
	replyListAlreadyOpen reply = "125 Data connection already open, list transfer in process..."
	replyListOpening     reply = "150 Data connection open, list transfer in process..."
	replyListDoneOpen    reply = "225 List transfer completed, data connection is open." // not used
	replyListDone        reply = "226 List transfer completed, data connection is closed."
)

// LIST data lines. The manual has no listing example: these formats are
// sluice's, chosen to be parsed by common clients (jlaffaye/ftp's ls and
// DOS parsers, FileZilla, lftp, curl). Each line ends with CRLF.
const (
	// UNIX, a file: %12d = size, %s = date "Jan _2 15:04" (within six
	// months) or "Jan _2  2006" (older), %s = name.
	listUnixFile = "-rw-r--r--   1 root     root     %12d %s %s"
	// UNIX, a file system in "/": %s = date as above, %s = name ("dsk").
	listUnixDir = "drwxr-xr-x   1 root     root                0 %s %s"
	// MS-DOS (IIS style), a file: %s = "01-02-06  03:04PM", %20d = size, %s = name.
	listDOSFile = "%s %20d %s"
	// MS-DOS, a file system in "/": %s = date as above, %s = name.
	listDOSDir = "%s       <DIR>          %s"
)

// PWD, XPWD (§1.4.2). Also replyBusy, replyNotLoggedIn.
const (
	replyPwd reply = "257 \"%s\" is the current directory." // %s = "/" or "/dsk"
)

// SMNT (§1.4.2). Also replyBusy, replyNotLoggedIn.
const (
	replySmntUnknown  reply = "501 File system not recognized."   // also SITE
	replySmntNotAvail reply = "550 File system is not available." // also SITE
	replySmntOK       reply = "200 File system mounted."
)

// OPTS (§1.4.2; RFC 2389). No period. Also replyBusy, replyNotLoggedIn.
const (
	replyOptsNone reply = "501 No options available"
	replyOptsUTF8 reply = "200 UTF8 set to on" // sluice (RFC 2640 §3.2; ProFTPD's text): names are always UTF-8
	replyOptsMLST reply = "200 MLST OPTS %s"   // sluice (RFC 3659 §7.9): %s = the selected facts, each with ";" ("type;size;"), or empty
)

// MLST and MLSD (sluice; RFC 3659 §7). MLSD's data connection gets the
// replies of LIST (replyListOpening, replyListDone and the errors listed
// there); its data lines are mlsxLine. MLST answers on the control
// connection: first line, one fact line (a space, the facts, a space, the
// path), last line. Also replyNotFound (no such file), replyInvalidPath,
// replyPathTooLong, replyNotLoggedIn.
const (
	replyMlstFirst reply = "250-Listing %s" // %s = the path as the client gave it ("" for the current directory)
	replyMlstFacts reply = " %s %s"         // %s = the facts ("type=file;size=3;modify=20260102030405;perm=adfrw;"), %s = the device path ("/dsk/a.txt")
	replyMlstLast  reply = "250 End"
	replyAbortMLSD reply = "426 Aborting MLSD command..." // the manual's LIST text for MLSD
)

// MFMT (sluice; draft-somers-ftp-mfxx §3). Also replyNotFound,
// replyInvalidPath, replyInvalidName, replyDenied, replyBusy,
// replyNotLoggedIn.
const (
	replyMfmt        reply = "213 Modify=%s; %s"               // %s = the time set, UTC, "20060102150405"; %s = the path as the client gave it
	replyMfmtBadTime reply = "501 Invalid time value."         // not YYYYMMDDHHMMSS[.sss]
	replyMfmtSyntax  reply = "501 Syntax error in parameters." // no path after the time
)

// RETR (§1.4.3). Also replyNoDTP, replyNoDataConn, replyDataClosed,
// replyBusy, replyFSNotAvail, replyFSOpenError, replyInvalidName,
// replyInvalidPath, replyNotLoggedIn, replyNoLength, replyOpenFailed,
// replyReadError, replyCloseFile, replyCloseDevice, replySeekFailed.
const (
	replyFileAlreadyOpen reply = "125 Data connection already open, file transfer in process..."      // RETR, STOR, APPE
	replyFileOpening     reply = "150 Data connection open, file transfer in process..."              // RETR, STOR, APPE
	replyRetrDoneOpen    reply = "225 RETR completed, %d bytes processed, data connection is open."   // not used
	replyRetrDone        reply = "226 RETR completed, %d bytes processed, data connection is closed." // %d = bytes sent on the data connection
)

// STOR (§1.4.3, §3.5, §5.1.6). Also replyNoDTPNoDot, replyNoDataConn,
// replyDataClosed, replyBusy, replyFSNotAvail, replyFSOpenError,
// replyInvalidName, replyInvalidPath, replyNotLoggedIn, replyOpenFailed,
// replyWriteError, replyCloseFile, replyCloseDevice, replySeekFailed,
// replyFileAlreadyOpen, replyFileOpening.
//
// The check verdicts (503, 535, 536, 551, 552; §1.4.3, §5.1.6) are
// picked by checkReply (status.go) from the failing image.CheckError's
// Reason and Kind. "%d" pairs: received level, required level.
const (
	replyCheckVersionOld    reply = "503 Version older than the stored one."
	replyCheckAppHWLevel    reply = "503 Application not supported by hardware level (rcvd. %d, reqd. %d)."
	replyCheckAppOld        reply = "503 Application older than the one stored."
	replyCheckAppProfile    reply = "503 Application incompatible with the stored profile."
	replyCheckAppBIOS       reply = "503 Application not supported by present BIOS."
	replyCheckFwHWLevel     reply = "503 Firmware not supported by hardware level (rcvd. %d, reqd. %d)."
	replyCheckFwOld         reply = "503 Firmware older than the one stored."
	replyCheckBIOSHWLevel   reply = "503 BIOS not supported by hardware level (rcvd. %d, reqd. %d)."
	replyCheckBIOSOld       reply = "503 BIOS older than the one stored."
	replyCheckUnknown       reply = "503 Unknown file type checked."
	replyCheckLength        reply = "535 Unexpected end of checked file."
	replyCheckCRC           reply = "536 Received checked file with bad checksum." // §5.1.6 (not in the §1.4.3 list)
	replyCheckFwUnknown     reply = "551 Firmware unknown."
	replyCheckFwMisbuilt    reply = "552 Firmware misbuilt."
	replyCheckFwNotRequired reply = "552 Firmware not required."
	// sluice: the manual's forms above for the kinds and checks it has no
	// text for (boot images, HW-SUPPORTED, BIOS and PROFILE of firmware and
	// boot images, SIGNATURE; docs/image-format.md). %s = the kind's word
	// (wordApplication ...).
	replyCheckHWLevel       reply = "503 %s not supported by hardware level (rcvd. %d, reqd. %d)."
	replyCheckHWSupported   reply = "503 %s not supported by present hardware."
	replyCheckBIOS          reply = "503 %s not supported by present BIOS."
	replyCheckProfile       reply = "503 %s incompatible with the stored profile."
	replyCheckOld           reply = "503 %s older than the one stored."
	replyCheckUnsigned      reply = "503 Unsigned checked file."
	replyCheckUnknownKey    reply = "503 Unknown signing key of checked file."
	replyCheckBadSignature  reply = "536 Received checked file with bad signature."
	replySecureFSNotLoaded  reply = "530 File system for secure transfer not loaded." // STOR, APPE in DIRECT OFF: /mem not writable for this user
	replyAltFSNotLoaded     reply = "530 Alternate file system not loaded."           // CHECK PATH target (bio/dsk) not mounted or not visible
	replyRenameInternal     reply = "550 Internal file rename failed."                // the atomic rename into place failed
	replyMark               reply = "110 MARK %s = %d"                                // MODE B/C restart marker: not used
	replyCheckedAlreadyOpen reply = "125 Data connection already open, checked file transfer in process..."
	replyCheckedOpening     reply = "150 Data connection open, checked file transfer in process..."
	replyStorDoneOpen       reply = "225 STOR completed, %d bytes processed, data connection is open."   // not used
	replyStorDone           reply = "226 STOR completed, %d bytes processed, data connection is closed." // %d = bytes received on the data connection
)

// APPE (§1.4.3). Also replyNoDTPNoDot, replyNoDataConn, replyDataClosed,
// replyBusy, replyFSNotAvail, replyFSOpenError, replyInvalidName,
// replyInvalidPath, replyNotLoggedIn, replySecureFSNotLoaded, replyNoLength,
// replyOpenFailed, replyWriteError, replyCloseFile, replyCloseDevice,
// replySeekFailed, replyMark, replyFileAlreadyOpen, replyFileOpening, and
// the check verdicts (the appended result of a known file is checked).
const (
	replyAppeDoneOpen reply = "225 APPE completed, %d bytes processed, data connection is open."   // not used
	replyAppeDone     reply = "226 APPE completed, %d bytes processed, data connection is closed." // %d = bytes received
)

// ALLO (§1.3, §1.4.3). Also replyBusy, replyNotLoggedIn.
const (
	replyAllo reply = "202 Command not implemented, superfluous at this site."
)

// DELE (§1.4.3). Also replyBusy, replyNoDTP, replyFSNotAvail,
// replyFSOpenError, replyInvalidName, replyNotLoggedIn, replyCloseDevice.
const (
	replyDeleFailed reply = "550 Unable to delete file."
	replyDeleOK     reply = "250 File deleted."
)

// RNFR and RNTO (§1.4.3). "RNTD" is the manual's spelling. RNFR also:
// replyBusy, replyNoDTP, replyFSNotAvail, replyFSOpenError,
// replyInvalidName, replyNotLoggedIn, replyNotFound, replySearchEnd,
// replyCloseDevice. RNTO also: replyBusy, replyFSNotAvail, replyFSOpenError,
// replyInvalidName, replyNotLoggedIn, replyCloseDevice, and the check
// verdicts when RNTO commits a known file from /mem.
const (
	replyRnfrOK       reply = "350 Rename pending information."
	replyRntoSequence reply = "503 Bad sequence of RNFR and RNTD commands." // sic
	replyRntoFailed   reply = "550 Unable to rename file."
	replyRntoOK       reply = "250 File successfully renamed."
)

// CDUP, XCUP (§1.4.3). Also replyBusy, replyNotLoggedIn.
const (
	replyCdupTop reply = "550 Top of tree."
	replyCdupOK  reply = "250 CDUP command successful."
)

// CWD, XCWD (§1.4.3). Also replyBusy. The successes answer 250 (RFC 959),
// not the manual's 200, with its texts: jlaffaye/ftp and others check the
// code (DESIGN §6). The same for CDUP.
const (
	replyCwdNoPath     reply = "501 No pathname defined."
	replyCwdTestMode   reply = "501 Pathname not allowed in test mode."
	replyCwdNotAvail   reply = "550 Pathname not available."
	replyCwdCurrentDir reply = "250 CWD current dir successful." // "." or the current directory
	replyCwdRootDir    reply = "250 CWD root dir successful."    // "/", "..", or NUL
	replyCwdOK         reply = "250 CWD command successful."     // into a file system
)

// MKD/XMKD, RMD/XRMD, STOU (§1.3, §1.4.3): replyNotImplemented once logged
// in; replyBusy, replyNotLoggedIn.

// REST (§1.4.3; REST STREAM, RFC 3659 §5). Also replyBusy,
// replyNotLoggedIn, and replyNotImplParam (sluice) for an argument that is
// not a decimal number.
const (
	replyRestZero reply = "200 Restore offset set to 0."
	replyRestOK   reply = "350 Restore offset set to %d, use RETR, STOR or APPE to init transfer." // %d = the offset
)

// MDTM and SIZE (§1.3, §1.4.3; RFC 3659). Also replyBusy, replyNoDTP
// (MDTM) / replyNoDTPNoDot (SIZE), replyFSNotAvail, replyFSOpenError,
// replyInvalidName, replyNotLoggedIn, replyNotFound, replySearchEnd,
// replyCloseDevice.
const (
	replyMdtm reply = "213 %s" // %s = modification time, UTC, "20060102150405" (the manual's YYYYMMDDHHMMSS)
	replySize reply = "213 %d" // %d = size in bytes (the manual's nnnnnnnnn)
)

// XCRC and XMD5 (§1.3, §1.4.3). The texts say "CRC" for XMD5 too. Also
// replyNoDTP, replyDataClosed (not used), replyBusy, replyFSNotAvail,
// replyFSOpenError, replyInvalidName, replyInvalidPath, replyFeatureAbsent
// (XCRC, "(not integrated)": not used), replyNotLoggedIn, replyNoLength,
// replyOpenFailed, replyCloseFile, replyCloseDevice, replyReadError,
// replySeekFailed.
//
// The manual prints "250 XXXXXXXXX" (9 X) and 39 X for XMD5: a CRC-32 has
// 8 hex digits and an MD5 32, so the widths are those; the X suggests
// upper-case hex.
const (
	replyCrcOffsetEOF reply = "550 CRC offset past eof."
	replyCrcSizeEOF   reply = "550 CRC size past eof."
	replyXcrc         reply = "250 %08X" // %08X = the CRC-32 (IEEE) as a uint32
	replyXmd5         reply = "250 %X"   // %X = the 16-byte MD5 digest as a []byte: 32 hex digits
)

// SITE (§1.4.3 and chapter 3): replies of the SITE command as a whole and
// of several subcommands. Also replyBusy, replyFSNotAvail,
// replyFSOpenError, replySmntUnknown ("501 File system not recognized."),
// replySmntNotAvail ("550 File system is not available."),
// replyInvalidName, replyOpenFailed, replyCloseFile, replyCloseDevice,
// replyNotLoggedIn, replyFeatureAbsent.
const (
	replySiteTempError    reply = "450 Temporal internal error."
	replySiteUnknown      reply = "500 SITE command not recognized."
	replySiteDTPCannot    reply = "500 DTP cannot process this SITE command." // sluice: SITE commands TEST mode forbids
	replySiteFSTestMode   reply = "501 File system not allowed in test mode." // also SMNT in TEST mode
	replySiteNoMemory     reply = "550 Not enough memory for command."
	replySiteDiskNotAvail reply = "550 Disk not available"        // no period; SITE DISKFREE on tst/ts1
	replySiteNoFreeSpace  reply = "550 Unable to get freespace."  // SITE DISKFREE
	replySiteNoFileLength reply = "550 Unable to get filelength." // sic, one word; SITE GETFILEVER
	replySiteReadFailed   reply = "550 Unable to read file."
	replySiteWriteFailed  reply = "550 Unable to write file."
	replySiteCreateOrder  reply = "550 Unable to create order." // SITE RELOAD ON: the configured command cannot be prepared
	replySiteGetMessage   reply = "550 Unable to get message."  // not used
	replySiteInfoNA504    reply = "504 Info not available."     // device information not configured
	replySiteInfoNA530    reply = "530 Info not available."     // SITE GETFILEVER: the file is not an image
	replySiteFileTooShort reply = "530 File too short."         // SITE GETFILEVER: shorter than an image header
)

// SITE mode switches (§3.5, §3.7–3.11). %s = wordOn / wordOff, except
// SYSTMODE (wordUnix / wordMSDOS) and CHECK (name, then word). The
// COMPATIBLE reply has no final period in the manual.
const (
	replySiteCompatibleBad reply = "500 SITE COMPATIBLE mode not recognized."
	replySiteDirectBad     reply = "500 SITE DIRECT mode not recognized."
	replySiteImmediateBad  reply = "500 SITE IMMEDIATE mode not recognized."
	replySiteKeepaliveBad  reply = "500 SITE KEEPALIVE mode not recognized."
	replySiteReloadBad     reply = "500 SITE RELOAD mode not recognized."
	replySiteReplyBad      reply = "500 SITE REPLY mode not recognized."
	replySiteSystmodeBad   reply = "500 SITE SYSTMODE mode not recognized."
	replySiteCheckBad      reply = "500 SITE CHECK control not recognized."         // unknown check name
	replySiteCheckModeBad  reply = "500 SITE CHECK %s control mode not recognized." // %s = the check name (canonical, upper case), argument not ON/OFF
	replySiteCompatibleOK  reply = "200 COMPATIBLE mode is set to %s"
	replySiteDirectOK      reply = "200 DIRECT is set to %s."
	replySiteImmediateOK   reply = "200 IMMEDIATE mode is set to %s."
	replySiteKeepaliveOK   reply = "200 KEEPALIVE mode is set to %s."
	replySiteReloadOK      reply = "200 RELOAD mode is set to %s."
	replySiteReplyOK       reply = "200 REPLY mode is set to %s."
	replySiteCheckOK       reply = "200 CHECK %s control is set to %s." // %s = check name ("CRC", "HW-SUPPORTED", "ALL"), %s = wordOn / wordOff
	replySiteSystmodeOK    reply = "200 SYST is set to %s."             // %s = wordUnix / wordMSDOS
)

// SITE SAVEBUFFER, STATBUFFER, CLEARBUFFER, STOREDEVICE, SAVESLAVES (§3.5).
const (
	replySaveNoDTP     reply = "411 Unable to get DTP for SAVEBUFFER"
	replyBufferNone    reply = "503 No Temporal buffer present."        // the session has no staged file
	replyBufferLocked  reply = "503 Temporal buffer is locked."         // the staged file is in use (being written or committed)
	replyBufferAlready reply = "503 Temporal buffer is already locked." // a SAVEBUFFER of it is already running
	replyBufferEmpty   reply = "503 Temporal buffer is empty."          // the staged file has 0 bytes
	// replyBufferIncomplete is sluice's (the device had no resumable
	// uploads): the user's newest staged file is an upload cut short; a
	// resumed STOR (REST, APPE) completes it, CLEARBUFFER removes it.
	replyBufferIncomplete reply = "503 Temporal buffer is incomplete."
	replySaveTargetBad    reply = "503 Target file system not supports SAVEBUFFER." // sic; target is NUL (/), mem, or not host-backed
	replySaveNoSpace      reply = "552 Not enough space to save file."
	replySaveProgress     reply = "119 Saving temporal buffer..."                                // REPLY ON: first line of SAVEBUFFER
	replySaveOrdered      reply = "200 SAVEBUFFER ordered. Please, close connection to proceed." // not used: saves are synchronous
	replySaveOK           reply = "200 SAVEBUFFER completed O.K."
	replyBufferCleared    reply = "211 Temporal buffer cleared and deallocated."
	// replyStoreDevice: %s = the file system ("dsk"), %s = wordOn / wordOff (DIRECT).
	replyStoreDevice reply = "211 %s: is permanent storage device, direct mode is %s."
	// replyBufferStatus: %d MAX ([mem] max_bytes), %d REQ (bytes the
	// staging store has allocated), %d BUSY (bytes of the session's staged
	// file), %s its name. The manual prints "%s.%s" (an 8.3 base and
	// extension); sluice names need not be 8.3, so the whole name is one %s
	// (identical output for a name with one dot). It is shown as stored.
	replyBufferStatus   reply = "211 Buffer status: MAX-REQ-BUSY %d-%d-%d filename: \"%s\"."
	replySlavesProgress reply = "119 Saving temporal buffer over slave devices..." // not used
	replySlavesOK       reply = "200 SAVESLAVES completed O.K."                    // not used
	replySlavesError    reply = "552 Error saving slaves."                         // not used
)

// SITE BACKUP (§3.4).
const (
	replyBackupNoDTP    reply = "411 Unable to get DTP for BACKUP"
	replyBackupFailed   reply = "550 Unable to backup operation."
	replyBackupProgress reply = "119 Backup in process..." // REPLY ON
	replyBackupOK       reply = "250 Backup successful."
)

// SITE COHERENCE (§3.6). Multi-line: first line, one body line per
// finding, last line; 211 when the software set is coherent, 550 when not.
// The manual shows the body only as "< coherence results >".
const (
	replyCoherenceNoDTP    reply = "411 Unable to get DTP for COHERENCE"
	replyCoherenceBusy     reply = "550 Coherence checker is busy."
	replyCoherenceProgress reply = "119 Checking firmware coherence..." // REPLY ON
	replyCoherenceOKFirst  reply = "211-COHERENCE results"
	replyCoherenceOKLast   reply = "211 COHERENCE results end"
	replyCoherenceBadFirst reply = "550-COHERENCE results"
	replyCoherenceBadLast  reply = "550 COHERENCE results end"
	replyCoherenceLine     reply = " %s: %s" // sluice: %s = file name as stored, %s = "OK", "missing" or the check's manual text ("Bad crc of checked file", "Firmware misbuilt (version 1.2, OS_FILE.BIN requires 1.3 or newer)")
)

// SITE device information (§3.6). The manual's <...> are placeholders.
const (
	replyAppName       reply = "204 %s" // GETAPPNAME, GETCFGNAME: %s = the 8.3-style name
	replyBIOSVer       reply = "214 %s" // GETBIOSVER: %s = [device] bios_version
	replyFileVer       reply = "214 %s" // GETFILEVER: %s = the image's version
	replyFileVerNoDTP  reply = "411 Unable to get DTP for GETFILEVER"
	replyHwLevelBIOS   reply = "213-BIOS: %d" // GETHDWLVL first line: [device] bios_hw_level
	replyHwLevelAppl   reply = "213 APPL: %d" // GETHDWLVL last line: [device] hw_level
	replyFirmwaresNone reply = "200 None"     // LISTFIRMWARES: the active application needs none
	replyFirmwares     reply = "211 %s"       // LISTFIRMWARES: %s = names joined by ";" ("A.BFW;B.BFW")
	replySystID        reply = "211 %s"       // SYSTID: %s = [device] system_id
	replySystIDUnknown reply = "550 Unknown"  // SYSTID when system_id is not configured; no period
)

// mTCP's SITE WHO, STATS, DISKFREE (seeds/mtcp-ftp-server.txt, Appendix
// A). mTCP documents no texts: all sluice. SITE HELP is with HELP above.
const (
	replyWhoFirst    reply = "211-WHO: %d active clients of %d simultaneous clients allowed." // %d active, %d allowed
	replyWhoLine     reply = " %s %s %s %s"                                                   // user (or "-" before login), remote address, current directory, "idle 12s" / "RETR 45%" ...
	replyStatsFirst  reply = "211-STATS: up since %s"                                         // %s = start time, RFC 3339
	replyStatsConns  reply = " Connections: %d total, %d active, %d refused"
	replyStatsLogins reply = " Logins: %d successful, %d failed"
	replyStatsFiles  reply = " Files: %d received, %d sent"
	replyStatsBytes  reply = " Bytes: %d received, %d sent"
	replyStatsBans   reply = " Banned sources: %d"               // supervisors only; then replyBanLine each
	replyBanLine     reply = " Banned: %s until %s (ban %d, %s)" // source, RFC 3339 end, how many bans, last reason; supervisors only
	replyInfoLast    reply = "211 End"                           // last line of WHO and STATS
	replyDiskFree    reply = "211 %s: %d bytes free."            // %s = file system, %d = bytes (for mem: max_bytes minus REQ)
)

// Explicit FTPS (RFC 4217; DESIGN §6): all sluice.
const (
	replyAuthOK         reply = "234 AUTH TLS OK."
	replyAuthAgain      reply = "503 TLS already active."
	replyPbszOK         reply = "200 PBSZ=0"                   // RFC 4217 §8 example text
	replyPbszNoAuth     reply = "503 AUTH TLS required first." // PBSZ or PROT before AUTH TLS
	replyProtPrivate    reply = "200 PROT is set to PRIVATE."
	replyProtClear      reply = "200 PROT is set to CLEAR."
	replyDataProtNeeded reply = "521 Data connection cannot be opened with this PROT setting." // require_tls and PROT C
)

// Policy (sluice): a logged-in user whose sandbox or permissions refuse a
// file operation. The text is the manual's SFTP text (§1.7), with the
// period the FTP texts have.
const (
	replyDenied reply = "550 Operation denied to this client."
)

// commandLevels is the manual's access level of every command (§1.4.1
// all users, §1.4.2 registered users, §1.4.3 ROOT level) and of every SITE
// subcommand (SITE is §1.4.3). Keys are upper case; a SITE subcommand is
// "SITE " + its name, looked up first; the "SITE" entry is the level of a
// SITE line without a known subcommand (replySiteUnknown once allowed). A
// command not in the table answers replyUnrecognized. For commands that are file operations, the shared
// policy decides for logged-in users (docs/ftp.md, "Access").
var commandLevels = map[string]accessLevel{
	// §1.4.1: all users.
	"USER": accessAll,
	"PASS": accessAll,
	"ACCT": accessAll,
	"REIN": accessAll,
	"QUIT": accessAll,
	"NOOP": accessAll,
	"SYST": accessAll,
	"HELP": accessAll,
	"STAT": accessAll,
	"FEAT": accessAll,
	// sluice: RFC 4217 must work before login.
	"AUTH": accessAll,
	"PBSZ": accessAll,
	"PROT": accessAll,

	// §1.4.2: registered users.
	"PORT": accessRegistered,
	"PASV": accessRegistered,
	"EPRT": accessRegistered,
	"EPSV": accessRegistered,
	"TYPE": accessRegistered,
	"MODE": accessRegistered,
	"STRU": accessRegistered,
	"ABOR": accessRegistered,
	"LIST": accessRegistered,
	"NLST": accessRegistered,
	"PWD":  accessRegistered,
	"XPWD": accessRegistered,
	"SMNT": accessRegistered,
	"OPTS": accessRegistered,
	// sluice: RFC 3659 listings are listings, as LIST is.
	"MLSD": accessRegistered,
	"MLST": accessRegistered,

	// §1.4.3: ROOT (supervisor) level.
	"RETR": accessSupervisor,
	"STOR": accessSupervisor,
	"APPE": accessSupervisor,
	"ALLO": accessSupervisor,
	"DELE": accessSupervisor,
	"RNFR": accessSupervisor,
	"RNTO": accessSupervisor,
	"SITE": accessSupervisor,
	"CDUP": accessSupervisor,
	"XCUP": accessSupervisor,
	"CWD":  accessSupervisor,
	"XCWD": accessSupervisor,
	"MKD":  accessSupervisor,
	"XMKD": accessSupervisor,
	"RMD":  accessSupervisor,
	"XRMD": accessSupervisor,
	"REST": accessSupervisor,
	"STOU": accessSupervisor,
	"MDTM": accessSupervisor,
	"SIZE": accessSupervisor,
	"XCRC": accessSupervisor,
	"XMD5": accessSupervisor,
	"MFMT": accessSupervisor, // sluice: MDTM's level (a file operation: the policy decides)

	// SITE subcommands of chapter 3: SITE is §1.4.3.
	"SITE BACKUP":        accessSupervisor,
	"SITE CHECK":         accessSupervisor,
	"SITE CLEARBUFFER":   accessSupervisor,
	"SITE COHERENCE":     accessSupervisor,
	"SITE COMPATIBLE":    accessSupervisor,
	"SITE DIRECT":        accessSupervisor,
	"SITE GETAPPNAME":    accessSupervisor,
	"SITE GETBIOSVER":    accessSupervisor,
	"SITE GETCFGNAME":    accessSupervisor,
	"SITE GETFILEVER":    accessSupervisor,
	"SITE GETHDWLVL":     accessSupervisor,
	"SITE IMMEDIATE":     accessSupervisor,
	"SITE KEEPALIVE":     accessSupervisor,
	"SITE LISTFIRMWARES": accessSupervisor,
	"SITE RELOAD":        accessSupervisor,
	"SITE REPLY":         accessSupervisor,
	"SITE SAVEBUFFER":    accessSupervisor,
	"SITE SAVESLAVES":    accessSupervisor,
	"SITE STATBUFFER":    accessSupervisor,
	"SITE STOREDEVICE":   accessSupervisor,
	"SITE SYSTID":        accessSupervisor,
	"SITE SYSTMODE":      accessSupervisor,
	// mTCP's SITE commands (sluice's levels: the manual has none). WHO
	// shows other users' addresses, so it stays with the supervisor.
	"SITE DISKFREE": accessRegistered,
	"SITE HELP":     accessRegistered,
	"SITE STATS":    accessRegistered,
	"SITE WHO":      accessSupervisor,
}
