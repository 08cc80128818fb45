"""OAuth: POST /oauth2/token (client credentials) and POST /oauth2/token-info."""
import time

from api import app_error, validation_error


def h_token(req):
    st = req.state
    b = req.body
    if not isinstance(b, dict):
        raise app_error(400, "INVALID_REQUEST", "invalid_request: expected a JSON object body")

    def g(*names):
        for n in names:
            if n in b and b[n] is not None:
                return b[n]
        return None
    grant = g("grant_type", "grantType")
    cid = g("client_id", "clientId")
    sec = g("client_secret", "clientSecret")
    if grant is None or cid is None or sec is None:
        raise app_error(400, "INVALID_REQUEST", "invalid_request: grant_type, client_id and client_secret are required")
    if grant != "client_credentials":
        raise app_error(400, "UNSUPPORTED_GRANT_TYPE", "unsupported_grant_type: %s" % grant)
    if cid != st.args.client_id or sec != st.args.client_secret:
        raise app_error(401, "INVALID_CLIENT", "invalid_client: client authentication failed")
    tok, ttl = st.mint()
    return {"access_token": tok, "token_type": "Bearer", "expires_in": ttl}


def h_token_info(req):
    st = req.state
    b = req.body if isinstance(req.body, dict) else {}
    tok = b.get("token")
    if not isinstance(tok, str):
        raise validation_error("token", "token is required", "REQUIRED_FIELD")
    t = st.tokens.get(tok)
    if t is None or time.time() >= t[0]:
        return {"active": False}
    return {"active": True, "subjectType": "APP", "subjectId": st.args.client_id, "exp": str(int(t[0])), "iat": str(t[1]),
            "clientId": st.args.client_id, "accountId": st.args.account_id, "siteId": st.args.site_id,
            "instanceId": st.args.instance_id}
