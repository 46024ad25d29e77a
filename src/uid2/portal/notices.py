"""Messages shown after a redirect (``?notice=<key>``): fixed texts, never user input."""

NOTICES: dict[str, str] = {
    "signed-out": "You are signed out.",
    "password-set": "Your password is set. Sign in with it.",
    "key-updated": "The API key was updated.",
    "key-disabled": "The API key was disabled. Requests made with it are now refused.",
    "keypair-created": "The client-side key was created.",
    "keypair-disabled": "The client-side key was disabled.",
    "domains-saved": "The domains were saved.",
    "apps-saved": "The mobile app ids were saved.",
    "sharing-saved": (
        "Sharing permissions were saved. Receivers see the change at their next key refresh."
    ),
    "sharing-unchanged": "Nothing changed.",
    "role-changed": "The role was changed.",
    "member-removed": "The team member was removed.",
    "participant-created": "The participant was created.",
    "participant-saved": "The participant was saved.",
    "user-locked": "The user is locked and signed out.",
    "user-unlocked": "The user is unlocked.",
}
