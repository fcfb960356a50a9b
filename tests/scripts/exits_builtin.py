print("calling exit()")
exit()
